// Package metrics writes the Prometheus text exposition format (version
// 0.0.4) by hand: the daemons export a few dozen values, which does not
// justify a client library.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Writer emits metric families. Write each family's samples in one go: the
// HELP and TYPE lines are written when a family name is first seen.
type Writer struct {
	w    *bufio.Writer
	seen map[string]bool
	err  error
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriter(w), seen: map[string]bool{}}
}

// Labels are a metric's label pairs.
type Labels map[string]string

// Counter writes one sample of a counter.
func (w *Writer) Counter(name, help string, v float64, l Labels) {
	w.sample(name, "counter", help, v, l)
}

// Gauge writes one sample of a gauge.
func (w *Writer) Gauge(name, help string, v float64, l Labels) { w.sample(name, "gauge", help, v, l) }

func (w *Writer) sample(name, typ, help string, v float64, l Labels) {
	if w.err != nil {
		return
	}
	if !w.seen[name] {
		w.seen[name] = true
		fmt.Fprintf(w.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
	}
	w.w.WriteString(name)
	if len(l) > 0 {
		keys := make([]string, 0, len(l))
		for k := range l {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.w.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.w.WriteByte(',')
			}
			fmt.Fprintf(w.w, "%s=\"%s\"", k, escapeLabel(l[k]))
		}
		w.w.WriteByte('}')
	}
	w.w.WriteByte(' ')
	w.w.WriteString(formatValue(v))
	_, w.err = w.w.WriteString("\n")
}

// Flush writes buffered output and returns the first error.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); w.err == nil {
		w.err = err
	}
	return w.err
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
