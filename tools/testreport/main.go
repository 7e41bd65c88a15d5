// Command testreport summarises `go test -json` output: it prints the output
// of every failed test, lists each skipped test with its reason and every
// retry a test logged (a line starting "RETRY:", see internal/testenv), and
// ends with one line "N passed, N failed, N skipped". It exits 1 if anything
// failed, including a package that did not build, and with -strict (the
// default in CI) also if any test was skipped: CI installs everything, so a
// skip there would hide a test that never ran.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
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
	strict := flag.Bool("strict", os.Getenv("CI") == "true", "fail when any test was skipped (default true when CI=true)")
	flag.Parse()
	failed, err := report(os.Stdin, os.Stdout, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// retryMark starts a line that a test logs for each retry it makes.
const retryMark = "RETRY:"

func report(r io.Reader, w io.Writer, strict bool) (failed bool, err error) {
	out := map[key]*strings.Builder{}
	var passed, fails, skips []key
	var badPkgs, retries []string
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
			if i := strings.Index(e.Output, retryMark); i >= 0 {
				retries = append(retries, fmt.Sprintf("%s %s: %s", e.Package, e.Test, strings.TrimSpace(e.Output[i+len(retryMark):])))
			}
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
	if len(retries) > 0 {
		fmt.Fprintf(w, "Retries (%d):\n", len(retries))
		for _, r := range retries {
			fmt.Fprintf(w, "  RETRY %s\n", r)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", len(passed), len(fails)+len(badPkgs), len(skips))
	if strict && len(skips) > 0 {
		fmt.Fprintf(w, "testreport: %d skipped tests fail this run (-strict, CI=true): CI must run every test\n", len(skips))
		return true, nil
	}
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
