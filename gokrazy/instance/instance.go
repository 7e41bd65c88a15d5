// Package instance derives gokrazy instance directories from the committed
// ones: the same config.json and builddir, placed elsewhere, with a few fields
// changed (the update target, the web UI's certificate, extra go build
// flags, a package's flags), and keeps that certificate (EnsureWebCert).
//
// gok has no flag for the update host or for build flags, and it only reads
// <parent_dir>/<instance>/config.json, so `make update BOX=...` and the qemu
// test build from a derived copy. Relative paths (the builddir replace and
// ExtraFilePaths, both relative to the source directories) become absolute.
package instance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
)

// Overrides are the changes a derived instance makes to its source.
type Overrides struct {
	// UpdateHostname sets Update.Hostname, the host gok update talks to.
	UpdateHostname string
	// GoBuildFlags are appended to PackageConfig[pkg].GoBuildFlags.
	GoBuildFlags map[string][]string
	// Version, when set, is stamped into every package of this module
	// in Packages (daemon.LDFlags), so the box's programs report the
	// version of the checkout they were built from. It replaces any
	// -ldflags of those packages (go build uses only the last one).
	Version string
	// CommandLineFlags replace PackageConfig[pkg].CommandLineFlags.
	CommandLineFlags map[string][]string
	// WebCert, when set, turns on TLS for gokrazy's web UI and updates
	// with this certificate (Update.UseTLS "<cert>,<key>"): gok puts it
	// into the image, and gok update trusts exactly it.
	WebCert *WebCert
}

// Derive writes the instance srcDir (a directory with config.json and
// builddir/) as dstParent/name with the overrides applied, and returns the
// new instance directory.
func Derive(srcDir, dstParent, name string, o Overrides) (string, error) {
	srcDir, err := filepath.Abs(srcDir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", srcDir, err)
	}
	dst := filepath.Join(dstParent, name)
	if err := os.MkdirAll(filepath.Join(dst, "builddir"), 0o755); err != nil {
		return "", fmt.Errorf("creating instance %s: %w", dst, err)
	}
	cfgPath := filepath.Join(srcDir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", fmt.Errorf("reading instance config: %w", err)
	}
	cfg, err := deriveConfig(raw, srcDir, o)
	if err != nil {
		return "", fmt.Errorf("deriving %s: %w", cfgPath, err)
	}
	if err := os.WriteFile(filepath.Join(dst, "config.json"), cfg, 0o644); err != nil {
		return "", fmt.Errorf("writing derived config: %w", err)
	}
	if err := deriveBuilddir(filepath.Join(srcDir, "builddir"), filepath.Join(dst, "builddir")); err != nil {
		return "", err
	}
	return dst, nil
}

// deriveConfig edits the config generically (as a JSON tree), so that keys
// this package does not know survive unchanged.
func deriveConfig(raw []byte, srcDir string, o Overrides) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var cfg map[string]any
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	upd, _ := cfg["Update"].(map[string]any)
	if upd == nil {
		upd = map[string]any{}
	}
	if o.UpdateHostname != "" {
		upd["Hostname"] = o.UpdateHostname
		cfg["Update"] = upd
	}
	if o.WebCert != nil {
		cert, err := filepath.Abs(o.WebCert.Cert)
		if err != nil {
			return nil, err
		}
		key, err := filepath.Abs(o.WebCert.Key)
		if err != nil {
			return nil, err
		}
		if strings.Contains(cert+key, ",") {
			return nil, fmt.Errorf("certificate paths %q, %q: gok's UseTLS cannot hold a comma", cert, key)
		}
		upd["UseTLS"] = cert + "," + key
		cfg["Update"] = upd
	}
	pkgCfgs, _ := cfg["PackageConfig"].(map[string]any)
	if pkgCfgs == nil {
		pkgCfgs = map[string]any{}
	}
	pkgCfg := func(pkg string) map[string]any {
		pc, _ := pkgCfgs[pkg].(map[string]any)
		if pc == nil {
			pc = map[string]any{}
			pkgCfgs[pkg] = pc
		}
		return pc
	}
	for pkg, flags := range o.GoBuildFlags {
		pc := pkgCfg(pkg)
		old, _ := pc["GoBuildFlags"].([]any)
		for _, f := range flags {
			old = append(old, f)
		}
		pc["GoBuildFlags"] = old
	}
	if o.Version != "" {
		pkgs, _ := cfg["Packages"].([]any)
		for _, p := range pkgs {
			pkg, _ := p.(string)
			if !strings.HasPrefix(pkg, daemon.Module+"/") {
				continue
			}
			pc := pkgCfg(pkg)
			old, _ := pc["GoBuildFlags"].([]any)
			flags := []any{}
			for _, f := range old {
				if s, _ := f.(string); !strings.HasPrefix(s, "-ldflags") {
					flags = append(flags, f)
				}
			}
			pc["GoBuildFlags"] = append(flags, daemon.LDFlags(o.Version))
		}
	}
	for pkg, flags := range o.CommandLineFlags {
		pc := pkgCfg(pkg)
		args := make([]any, len(flags))
		for i, f := range flags {
			args[i] = f
		}
		pc["CommandLineFlags"] = args
	}
	for pkg := range pkgCfgs {
		pc, _ := pkgCfgs[pkg].(map[string]any)
		paths, _ := pc["ExtraFilePaths"].(map[string]any)
		for dest, p := range paths {
			s, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("PackageConfig[%q].ExtraFilePaths[%q] is %T, not a string", pkg, dest, p)
			}
			if !filepath.IsAbs(s) {
				paths[dest] = filepath.Join(srcDir, s)
			}
		}
	}
	if len(pkgCfgs) > 0 {
		cfg["PackageConfig"] = pkgCfgs
	}
	out, err := json.MarshalIndent(cfg, "", "    ")
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return append(out, '\n'), nil
}

// deriveBuilddir copies go.mod (with relative replace targets made absolute)
// and go.sum.
func deriveBuilddir(src, dst string) error {
	modPath := filepath.Join(src, "go.mod")
	data, err := os.ReadFile(modPath)
	if err != nil {
		return fmt.Errorf("reading builddir: %w", err)
	}
	mf, err := modfile.Parse(modPath, data, nil)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", modPath, err)
	}
	for _, r := range mf.Replace {
		if modfile.IsDirectoryPath(r.New.Path) && !filepath.IsAbs(r.New.Path) {
			abs := filepath.Join(src, r.New.Path)
			if err := mf.AddReplace(r.Old.Path, r.Old.Version, abs, ""); err != nil {
				return fmt.Errorf("rewriting replace %s in %s: %w", r.Old.Path, modPath, err)
			}
		}
	}
	out, err := mf.Format()
	if err != nil {
		return fmt.Errorf("formatting derived %s: %w", modPath, err)
	}
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), out, 0o644); err != nil {
		return fmt.Errorf("writing derived go.mod: %w", err)
	}
	sum, err := os.ReadFile(filepath.Join(src, "go.sum"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // gok fills it on the first build
	}
	if err != nil {
		return fmt.Errorf("reading builddir go.sum: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dst, "go.sum"), sum, 0o644); err != nil {
		return fmt.Errorf("writing derived go.sum: %w", err)
	}
	return nil
}
