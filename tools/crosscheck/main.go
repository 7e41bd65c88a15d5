// Command crosscheck type-checks packages, with everything they import,
// for other platforms from source. It catches what breaks a cross build
// (a Linux-only identifier in a file without a build constraint) in a
// fraction of the time of compiling the dependencies once per platform,
// which keeps it in make check; make dist still builds for real.
//
// Usage: crosscheck -targets 'darwin/arm64 windows/amd64' ./cmd/hub
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/tools/go/packages"
)

func main() {
	targets := flag.String("targets", "darwin/arm64,windows/amd64", "GOOS/GOARCH pairs, separated by commas or spaces")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: crosscheck [-targets os/arch,...] package...")
		os.Exit(2)
	}
	failed := false
	for _, t := range strings.FieldsFunc(*targets, func(r rune) bool { return r == ',' || r == ' ' }) {
		goos, goarch, ok := strings.Cut(t, "/")
		if !ok || goos == "" || goarch == "" {
			fmt.Fprintf(os.Stderr, "crosscheck: target %q is not GOOS/GOARCH\n", t)
			os.Exit(2)
		}
		if n, err := check(goos, goarch, flag.Args()); err != nil {
			fmt.Fprintf(os.Stderr, "crosscheck %s/%s: %v\n", goos, goarch, err)
			failed = true
		} else {
			fmt.Printf("crosscheck %s/%s: %d packages type-check\n", goos, goarch, n)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// check loads patterns and all their dependencies from source for one
// platform, with cgo off as in the release builds, and returns how many
// packages it checked.
func check(goos, goarch string, patterns []string) (int, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps |
			packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo,
		Env: append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0"),
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return 0, fmt.Errorf("loading %v: %w", patterns, err)
	}
	var errs []string
	n := 0
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		n++
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return n, fmt.Errorf("%d errors:\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return n, nil
}
