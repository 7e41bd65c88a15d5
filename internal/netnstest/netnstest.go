// Package netnstest builds throwaway network namespaces joined by veth pairs
// for tests that run real network peers (DHCP clients, dig, curl) against
// our servers. Each namespace has a unique name and is deleted when the
// test ends, pass or fail; the host's own interfaces are never touched.
package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// NS is a network namespace created by New.
type NS struct {
	Name string
	t    testing.TB
}

// Require checks that namespaces can be made here: root and iproute2.
func Require(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireProgram(t, "ip")
}

// New creates a namespace with its loopback up. It is deleted in t.Cleanup.
func New(t testing.TB) *NS {
	t.Helper()
	Require(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("netnstest: random name: %v", err)
	}
	removeStale(t)
	ns := &NS{Name: fmt.Sprintf("%s%d-%s", NamePrefix, os.Getpid(), hex.EncodeToString(b[:])), t: t}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("netnstest: ip netns del %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.IP("link", "set", "lo", "up")
	return ns
}

// NamePrefix starts every namespace name, followed by the owning test
// process's PID, so that leftovers of a killed test run can be recognised.
const NamePrefix = "kbztest-"

// removeStale deletes namespaces left behind by test processes that no
// longer exist (killed by a timeout, so their cleanups never ran).
func removeStale(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, NamePrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); err == nil || err == unix.EPERM {
			continue // its owner is still running
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Logf("netnstest: remove stale namespace %s: %v: %s", name, err, out)
		} else {
			t.Logf("netnstest: removed stale namespace %s", name)
		}
	}
}

// IP runs `ip -n <ns> args...` and fails the test on error.
func (ns *NS) IP(args ...string) string {
	ns.t.Helper()
	full := append([]string{"-n", ns.Name}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		ns.t.Fatalf("netnstest: ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// Veth joins a (interface aIf) and b (interface bIf) with a veth pair and
// brings both ends up. The pair is created directly inside the namespaces,
// so no name ever appears in the host's namespace.
func Veth(t testing.TB, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	a.IP("link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	a.IP("link", "set", aIf, "up")
	b.IP("link", "set", bIf, "up")
}

// AddAddr assigns cidr (e.g. "10.42.0.1/24") to ifname.
func (ns *NS) AddAddr(ifname, cidr string) {
	ns.t.Helper()
	ns.IP("addr", "add", cidr, "dev", ifname)
}

// MAC is the hardware address of ifname in the namespace.
func (ns *NS) MAC(ifname string) net.HardwareAddr {
	ns.t.Helper()
	var mac net.HardwareAddr
	if err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifc.HardwareAddr
		}
		return err
	}); err != nil {
		ns.t.Fatalf("%s in %s: %v", ifname, ns.Name, err)
	}
	return mac
}

// Command returns a command that runs inside the namespace.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a program inside the namespace with a time limit and returns
// its combined output and error.
func (ns *NS) Run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := ns.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w", name, strings.Join(args, " "), ns.Name, err)
	}
	return string(out), nil
}

// Do runs fn on an OS thread that has entered the namespace. Sockets that
// fn opens belong to the namespace for their whole life, even when used
// later from other goroutines. The thread is discarded afterwards rather
// than returned to the Go scheduler in the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: a locked goroutine that exits takes its
		// thread with it, which is what we want for a thread in ns.
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- fmt.Errorf("netnstest: open namespace %s: %w", ns.Name, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netnstest: enter namespace %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// FD opens the namespace for APIs that take a namespace file descriptor
// (nftables over netlink) and closes it when the test ends.
func (ns *NS) FD(t testing.TB) int {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatalf("netnstest: open namespace %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// Serve runs fn (typically a server's Run) on a thread inside the namespace
// until the returned stop function is called or the test ends. stop cancels
// fn's context and waits up to 10 s for it; an error from fn fails the test.
func (ns *NS) Serve(t testing.TB, what string, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ns.Do(func() error { return fn(ctx) }) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s in %s: %v", what, ns.Name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s in %s did not stop within 10 s", what, ns.Name)
		}
	}
	t.Cleanup(stop)
	return stop
}
