// Package ratelog logs at most one line per reason and interval, so that a
// client flooding bad packets cannot flood the log.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger logs at most one line per reason and interval; the next line says
// how many were suppressed in between.
type Logger struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// New returns a Logger writing to log. now is the clock (time.Now outside tests).
func New(log *slog.Logger, interval time.Duration, now func() time.Time) *Logger {
	return &Logger{log: log, interval: interval, now: now, last: map[string]time.Time{}, held: map[string]int{}}
}

// Log logs msg at level for reason unless a line for reason was logged
// within the interval. The set of reasons is fixed by the code, so the maps
// stay small.
func (r *Logger) Log(level slog.Level, reason, msg string, args ...any) {
	r.mu.Lock()
	now := r.now()
	last, seen := r.last[reason]
	if seen && now.Sub(last) < r.interval {
		r.held[reason]++
		r.mu.Unlock()
		return
	}
	suppressed := r.held[reason]
	r.held[reason] = 0
	r.last[reason] = now
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	r.log.Log(context.Background(), level, msg, append(args, "reason", reason)...)
}
