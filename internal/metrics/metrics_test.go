package metrics

import (
	"math"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	w.Counter("kb_drops_total", "Frames dropped.", 3, Labels{"reason": "too_big"})
	w.Counter("kb_drops_total", "Frames dropped.", 1, Labels{"reason": `bad "json"`})
	w.Gauge("kb_sessions", "Open sessions.\nNow.", 2, nil)
	w.Gauge("kb_inf", "x", math.Inf(1), Labels{"b": "2", "a": "1"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `# HELP kb_drops_total Frames dropped.
# TYPE kb_drops_total counter
kb_drops_total{reason="too_big"} 3
kb_drops_total{reason="bad \"json\""} 1
# HELP kb_sessions Open sessions.\nNow.
# TYPE kb_sessions gauge
kb_sessions 2
# HELP kb_inf x
# TYPE kb_inf gauge
kb_inf{a="1",b="2"} +Inf
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
