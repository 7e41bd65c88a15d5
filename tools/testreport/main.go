// Command testreport summarises `go test -json` output: it prints the output
// of every failed test, lists each skipped test with its reason, and ends
// with one line "N passed, N failed, N skipped". It exits 1 if anything
// failed, including a package that did not build.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	failed, err := report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func report(r io.Reader, w io.Writer) (failed bool, err error) {
	out := map[key]*strings.Builder{}
	var passed, fails, skips []key
	var badPkgs []string
	reasons := map[key]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil {
			// Build errors arrive as plain text.
			fmt.Fprintln(w, string(line))
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			b := out[k]
			if b == nil {
				b = &strings.Builder{}
				out[k] = b
			}
			if b.Len() < 256<<10 {
				b.WriteString(e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed = append(passed, k)
			}
		case "skip":
			if e.Test != "" {
				skips = append(skips, k)
				reasons[k] = skipReason(text(out[k]))
			}
		case "fail":
			if e.Test != "" {
				fails = append(fails, k)
			} else {
				badPkgs = append(badPkgs, e.Package)
			}
		}
		if e.Action == "pass" || e.Action == "skip" {
			delete(out, k)
			if e.Test == "" {
				for k2 := range out {
					if k2.pkg == e.Package {
						delete(out, k2)
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	for _, k := range fails {
		fmt.Fprintf(w, "=== FAILED %s %s\n%s\n", k.pkg, k.test, text(out[k]))
	}
	for _, p := range badPkgs {
		if b := out[key{p, ""}]; b != nil && b.Len() > 0 {
			fmt.Fprintf(w, "=== FAILED package %s\n%s\n", p, b.String())
		}
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "Skipped tests and why:\n")
		sort.Slice(skips, func(i, j int) bool { return skips[i].pkg+skips[i].test < skips[j].pkg+skips[j].test })
		for _, k := range skips {
			fmt.Fprintf(w, "  SKIP %s %s: %s\n", k.pkg, k.test, reasons[k])
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", len(passed), len(fails)+len(badPkgs), len(skips))
	return len(fails) > 0 || len(badPkgs) > 0, nil
}

func text(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}

// skipReason picks the t.Skip message out of a skipped test's output.
func skipReason(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		if i := strings.Index(l, ".go:"); i >= 0 {
			if j := strings.Index(l[i:], ": "); j >= 0 {
				return l[i+j+2:]
			}
		}
		return l
	}
	return "(no reason given)"
}
