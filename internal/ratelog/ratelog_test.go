package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSuppressesWithinInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		l.Log(slog.LevelWarn, "bad", "bad packet")
	}
	l.Log(slog.LevelWarn, "other", "other packet")
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines within the interval, want one per reason:\n%s", got, buf.String())
	}
	now = now.Add(11 * time.Second)
	l.Log(slog.LevelWarn, "bad", "bad packet")
	if !strings.Contains(buf.String(), "suppressed_since_last=4") || !strings.Contains(buf.String(), "reason=bad") {
		t.Fatalf("second line lacks the suppressed count:\n%s", buf.String())
	}
}
