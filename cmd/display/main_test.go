package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// The built program reports the version make stamps (daemon.LDFlags, the
// same flag the image build passes through gokrazy's GoBuildFlags), and
// exits 125 on configuration errors.
func TestBinaryVersionAndExitStatuses(t *testing.T) {
	gocmd := testenv.RequireProgram(t, "go")[0]
	bin := filepath.Join(t.TempDir(), "display")
	if out, err := exec.Command(gocmd, "build", daemon.LDFlags("v9.8.7-test"), "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "v9.8.7-test" {
		t.Errorf("--version printed %q (%v), want v9.8.7-test", out, err)
	}
	for _, args := range [][]string{{"--log-level", "loud"}, {"--no-such-flag"}, {"stray"}, {"--interval", "soon"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != daemon.ExitConfig {
			t.Errorf("display %q: %v, want exit status %d\n%s", args, err, daemon.ExitConfig, out)
		}
	}
	preview := filepath.Join(t.TempDir(), "x.png")
	if out, err := exec.Command(bin, "--panel", "ssd1306", "--sample", "--preview", preview, "--log-level", "debug").CombinedOutput(); err != nil {
		t.Errorf("preview: %v\n%s", err, out)
	}
}
