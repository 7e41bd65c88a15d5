package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQEMU writes a shell script that stands in for qemu: it finds the
// -serial file:PATH argument, writes console to it, then behaves as told.
func fakeQEMU(t *testing.T, console, then string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu")
	script := `#!/bin/sh
serial=""
prev=""
for a in "$@"; do
  [ "$prev" = "-serial" ] && serial=${a#file:}
  prev=$a
done
printf '%s\n' "` + console + `" >"$serial"
` + then + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, qemu string) *VM {
	t.Helper()
	v, err := Start(Config{Arch: AMD64, Image: "/nonexistent.img", QEMU: qemu,
		SerialLog: filepath.Join(t.TempDir(), "serial.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	return v
}

var errNotYet = errors.New("not answering yet")

func TestWaitForReportsKernelPanic(t *testing.T) {
	v := start(t, fakeQEMU(t, "Oops: int3\nKernel panic - not syncing: Fatal exception in interrupt", "exec sleep 60"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := v.WaitFor(ctx, func(context.Context) error { return errNotYet })
	if !errors.Is(err, ErrKernelPanic) {
		t.Fatalf("WaitFor = %v, want ErrKernelPanic", err)
	}
}

func TestWaitForReportsQEMUExit(t *testing.T) {
	v := start(t, fakeQEMU(t, "booting", "echo 'qemu: could not open disk' >&2; exit 1"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := v.WaitFor(ctx, func(context.Context) error { return errNotYet })
	if err == nil || !strings.Contains(err.Error(), "qemu exited") || !strings.Contains(err.Error(), "could not open disk") || !errors.Is(err, errNotYet) {
		t.Fatalf("WaitFor = %v, want qemu's exit with its stderr and the last probe error", err)
	}
}

func TestWaitForReturnsWhenTheProbeSucceeds(t *testing.T) {
	v := start(t, fakeQEMU(t, "booting", "exec sleep 60"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	calls := 0
	_, err := v.WaitFor(ctx, func(context.Context) error {
		if calls++; calls < 3 {
			return errNotYet
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("WaitFor = %v after %d probes, want success on the 3rd", err, calls)
	}
	// Stop ends the fake qemu (its own process group) promptly.
	done := make(chan struct{})
	go func() { v.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Stop did not end qemu")
	}
}

func TestWaitForGivesUpWithTheContext(t *testing.T) {
	v := start(t, fakeQEMU(t, "booting", "exec sleep 60"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := v.WaitFor(ctx, func(context.Context) error { return errNotYet })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor = %v, want the context's deadline", err)
	}
}

func TestPortHelpers(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		p, err := FreePort(proto)
		if err != nil || p == 0 {
			t.Fatalf("FreePort(%s) = %d, %v", proto, p, err)
		}
		if err := PortFree(proto, p); err != nil {
			t.Errorf("PortFree(%s, %d) right after FreePort: %v", proto, p, err)
		}
	}
	busy, err := FreePort("tcp")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", busy))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := PortFree("tcp", busy); err == nil {
		t.Errorf("PortFree says the listening port %d is free", busy)
	}
}
