// Package testenv decides what a test does when its environment lacks
// something it needs (root, a program, a kernel feature): on a developer's
// machine it skips with the reason, in CI (CI=true) it fails, because CI
// installs everything and a skipped test there would prove nothing.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips (or, in CI, fails) the test unless ok holds.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("CI must provide this: %s", why)
	}
	t.Skipf("needs %s", why)
}

// RequireRoot requires uid 0 (network namespaces, VMs, raw sockets).
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "root (network namespaces or VMs); run make test as root")
}

// RequireProgram requires each program on PATH and returns their paths.
func RequireProgram(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := exec.LookPath(n)
		Require(t, err == nil, "the program "+n+" (installed by make deps)")
		paths[i] = p
	}
	return paths
}

// Retry runs fn up to attempts times until it returns nil, and returns its
// last error. Each failed attempt that is tried again is logged as a line
// starting "RETRY:", which tools/testreport lists in its summary, so a
// retry that hides a flaky step is always visible.
func Retry(t testing.TB, what string, attempts int, fn func(attempt int) error) error {
	t.Helper()
	var err error
	for i := 1; i <= attempts; i++ {
		if err = fn(i); err == nil {
			return nil
		}
		if i < attempts {
			LogRetry(t, what, fmt.Errorf("attempt %d of %d: %w", i, attempts, err))
		}
	}
	return err
}

// LogRetry reports a retry made by the test's own loop (see Retry).
func LogRetry(t testing.TB, what string, err error) {
	t.Helper()
	t.Logf("RETRY: %s: %v", what, err)
}

// Serve runs run(ctx) in a goroutine until the test ends; then it stops it
// as Start's stop function does. It is how the tests run a daemon's Run.
func Serve(t testing.TB, run func(context.Context) error) {
	t.Helper()
	t.Cleanup(Start(t, run))
}

// Start runs run(ctx) in a goroutine. The returned stop function cancels
// ctx and fails the test unless run returns nil within 10 s; tests that
// restart a daemon call it themselves.
func Start(t testing.TB, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10 s of cancellation")
		}
	}
}

// FreePort returns a loopback port that was free a moment ago, for tests
// that must pass a port to a separate process. network is "tcp" or "udp".
func FreePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free UDP port: %v", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free TCP port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
