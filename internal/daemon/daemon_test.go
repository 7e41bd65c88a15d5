package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{base, 1},
		{Configf("--port %d: out of range", 70000), 125},
		{fmt.Errorf("starting: %w", &ConfigError{Err: base}), 125},
		{errors.Join(base, Configf("bad")), 125},
		{context.Canceled, 1},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	wrapped := &ConfigError{Err: base}
	if !errors.Is(wrapped, base) {
		t.Error("ConfigError does not unwrap")
	}
}

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLevel(s)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	// slog's own parser takes these; the flag does not, so the three
	// programs accept exactly the same words.
	for _, s := range []string{"", "INFO", "warning", "info+2", "trace"} {
		_, err := ParseLevel(s)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("ParseLevel(%q) = %v, want a ConfigError", s, err)
		}
	}
}

func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped wins", "v1.2.3-4-gabc", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v9.9.9"}}, "v1.2.3-4-gabc"},
		{"no build info", "", nil, "dev"},
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.3.0"}}, "v0.3.0"},
		{"checkout with vcs", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "false")}, "0123456789ab"},
		{"dirty checkout", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "true")}, "0123456789ab-dirty"},
		// gok builds cmd/hub from a builddir module: the main package's
		// module is this one, at the builddir's required version...
		{"builddir requiring a release", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.4.0"}}, "v0.4.0"},
		// ...or replaced by the checkout, whose placeholder version says
		// nothing, so without a stamp it is "dev".
		{"builddir with replace", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-00010101000000-000000000000", Replace: &debug.Module{Path: "../../.."}}}, "dev"},
		{"placeholder without replace", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-00010101000000-000000000000"}}, "dev"},
		{"nothing known", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}}, "dev"},
	} {
		if got := versionFrom(c.stamped, c.bi); got != c.want {
			t.Errorf("%s: version %q, want %q", c.name, got, c.want)
		}
	}
	if got := LDFlags("v1"); got != "-ldflags=-X github.com/kibitzbox/kibitzbox/internal/daemon.version=v1" {
		t.Errorf("LDFlags = %q", got)
	}
}

// runMain runs mainWith with a fresh flag set that has one flag of its
// own, --port.
func runMain(t *testing.T, args []string, run func(context.Context, Env) error) (code int, stdout, stderr string) {
	t.Helper()
	fs := flag.NewFlagSet("testd", flag.ContinueOnError)
	fs.Int("port", 1, "a port")
	var out, errb bytes.Buffer
	if run == nil {
		run = func(context.Context, Env) error { return nil }
	}
	code = mainWith(context.Background(), "testd", fs, args, &out, &errb, run)
	return code, out.String(), errb.String()
}

func TestMainExitStatuses(t *testing.T) {
	failed := errors.New("listen udp :4711: address in use")
	for _, c := range []struct {
		name string
		args []string
		err  error
		want int
		says string
	}{
		{"success", nil, nil, 0, ""},
		{"failure", nil, failed, 1, "address in use"},
		{"config error from run", nil, Configf("--port %d: want 1..65535", 0), 125, "want 1..65535"},
		{"unknown flag", []string{"--nope"}, nil, 125, "flag provided but not defined"},
		{"bad flag value", []string{"--port", "x"}, nil, 125, "invalid value"},
		{"bad log level", []string{"--log-level", "loud"}, nil, 125, `--log-level "loud"`},
		{"stray argument", []string{"extra"}, nil, 125, "unexpected arguments"},
		{"help", []string{"-h"}, nil, 0, "-log-level"},
	} {
		ran := false
		code, _, stderr := runMain(t, c.args, func(context.Context, Env) error { ran = true; return c.err })
		if code != c.want || !strings.Contains(stderr, c.says) {
			t.Errorf("%s: exit %d, want %d; stderr %q should say %q", c.name, code, c.want, stderr, c.says)
		}
		if wantRun := c.want != 125 || c.err != nil; c.name != "help" && ran != wantRun {
			t.Errorf("%s: run called = %v", c.name, ran)
		}
	}
}

func TestMainVersionAndLogger(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	code, stdout, _ := runMain(t, []string{"--version"}, func(context.Context, Env) error {
		t.Error("--version ran the daemon")
		return nil
	})
	if code != 0 || strings.TrimSpace(stdout) != Version() {
		t.Errorf("--version: exit %d, printed %q, want %q", code, stdout, Version())
	}

	code, _, stderr := runMain(t, []string{"--log-level", "warn"}, func(_ context.Context, env Env) error {
		if env.Version != Version() {
			t.Errorf("Env.Version %q, want %q", env.Version, Version())
		}
		env.Log.Info("hidden info")
		env.Log.Warn("shown warning")
		slog.Info("hidden default info")
		return nil
	})
	if code != 0 || strings.Contains(stderr, "hidden") || !strings.Contains(stderr, "shown warning") {
		t.Errorf("--log-level warn: exit %d, stderr %q", code, stderr)
	}
}
