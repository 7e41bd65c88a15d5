package turnrelay

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
)

// pionLoggerFactory sends pion's logs to slog. pion logs some per-packet
// events at Info ("no permission", "failed to handle datagram"), which a
// guest could trigger at will, so everything below Warn becomes Debug, and
// warnings and errors are limited to one per second per pion logger.
type pionLoggerFactory struct{ log *slog.Logger }

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope), lastWarn: new(atomic.Int64)}
}

type pionLogger struct {
	log      *slog.Logger
	lastWarn *atomic.Int64 // unix nanoseconds of the last warning let through
}

// allow applies the rate limit to warnings and errors.
func (l pionLogger) allow(level slog.Level) bool {
	if level < slog.LevelWarn {
		return true
	}
	now, last := time.Now().UnixNano(), l.lastWarn.Load()
	return now-last >= int64(time.Second) && l.lastWarn.CompareAndSwap(last, now)
}

func (l pionLogger) emit(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) && l.allow(level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) && l.allow(level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.emitf(slog.LevelDebug-4, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf(slog.LevelWarn, format, args...) }
func (l pionLogger) Error(msg string)                  { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf(slog.LevelWarn, format, args...) }
