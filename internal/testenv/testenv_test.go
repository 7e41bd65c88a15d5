package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRequireProgramFindsSh(t *testing.T) {
	p := RequireProgram(t, "sh")
	if p[0] == "" {
		t.Fatal("empty path for sh")
	}
}

// helperEnv marks the child process in which TestRequireBranches runs the
// missing requirement for real.
const helperEnv = "TESTENV_HELPER_MISSING"

// TestHelperMissing is the child: it requires something that is missing.
// Run directly it passes, doing nothing.
func TestHelperMissing(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	Require(t, false, "a thing this machine lacks")
	t.Log("reached after Require") // only without CI, never: Skip stops the test too
}

// The CI branch: the same missing requirement skips with its reason on a
// developer's machine and fails the test in CI.
func TestRequireBranches(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
		wantText string
	}{
		{"", false, "--- SKIP: TestHelperMissing"},
		{"true", true, "--- FAIL: TestHelperMissing"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperMissing$", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		failed := errors.As(err, &exit)
		if err != nil && !failed {
			t.Fatalf("CI=%q: running the child test: %v", tc.ci, err)
		}
		if failed != tc.wantFail || !strings.Contains(string(out), tc.wantText) ||
			!strings.Contains(string(out), "a thing this machine lacks") || strings.Contains(string(out), "reached after Require") {
			t.Errorf("CI=%q: failed=%v, want %v; output:\n%s", tc.ci, failed, tc.wantFail, out)
		}
	}
}

// recorder captures what a test logs, for Retry's log lines.
type recorder struct {
	testing.TB
	logs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func TestRetryLogsEachRetry(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	err := Retry(r, "boot", 3, func(attempt int) error {
		calls++
		if attempt < 3 {
			return errors.New("early panic")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Retry = %v after %d calls, want nil after 3", err, calls)
	}
	want := []string{"RETRY: boot: attempt 1 of 3: early panic", "RETRY: boot: attempt 2 of 3: early panic"}
	if strings.Join(r.logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged %q, want %q", r.logs, want)
	}

	r = &recorder{TB: t}
	err = Retry(r, "sbom", 2, func(int) error { return errors.New("no") })
	if err == nil || err.Error() != "no" || len(r.logs) != 1 {
		t.Errorf("Retry of an always-failing step = %v with logs %q, want the last error and one RETRY line", err, r.logs)
	}
}
