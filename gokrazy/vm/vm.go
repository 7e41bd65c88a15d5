// Package vm boots a gokrazy disk image under qemu with user-mode networking
// and host port forwards, and waits for it to answer, for the image tests.
//
// There is no usable KVM on our build machines (no /dev/kvm), so images
// run under TCG. amd64 boots gokrazy's own MBR bootloader through SeaBIOS;
// arm64 (the real Pi image) boots through EFI on -M virt.
package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Arch selects the qemu machine.
type Arch string

// The machines the image tests boot.
const (
	AMD64 Arch = "amd64"
	ARM64 Arch = "arm64"
)

// Forward is one host→guest port forward on 127.0.0.1.
type Forward struct {
	Proto     string // "tcp" or "udp"
	HostPort  int
	GuestPort int
}

// Config describes one VM.
type Config struct {
	Arch      Arch
	Image     string // raw disk image, written to by the guest
	EFI       string // QEMU_EFI.fd, for ARM64
	MemoryMiB int
	Forwards  []Forward
	SerialLog string // file that receives the serial console
	// AllowReboot keeps qemu running across a guest reboot (gok update
	// reboots the box); otherwise qemu exits when the guest reboots.
	AllowReboot bool
	// QEMU overrides the qemu binary (for tests of this package).
	QEMU string
}

// ErrKernelPanic means the guest kernel panicked. TCG on x86 has a rare
// early-boot panic; callers retry once.
var ErrKernelPanic = errors.New("guest kernel panicked")

// VM is a running qemu process.
type VM struct {
	cfg    Config
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	err    error // qemu's exit status, once exited is closed
	stderr bytes.Buffer
}

// Start launches qemu. It never uses KVM.
func Start(cfg Config) (*VM, error) {
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 1024
	}
	var fwd []string
	for _, f := range cfg.Forwards {
		fwd = append(fwd, fmt.Sprintf("hostfwd=%s:127.0.0.1:%d-:%d", f.Proto, f.HostPort, f.GuestPort))
	}
	netdev := "user,id=net0"
	if len(fwd) > 0 {
		netdev += "," + strings.Join(fwd, ",")
	}
	var bin string
	var args []string
	switch cfg.Arch {
	case AMD64:
		bin = "qemu-system-x86_64"
		// -smp 1: the rare TCG text-patching panic needs two vCPUs.
		args = []string{"-accel", "tcg", "-smp", "1",
			"-drive", "file=" + cfg.Image + ",format=raw,if=ide"}
	case ARM64:
		if cfg.EFI == "" {
			return nil, errors.New("arm64 VM needs the EFI firmware path")
		}
		bin = "qemu-system-aarch64"
		args = []string{"-machine", "virt,highmem=off", "-cpu", "cortex-a72", "-smp", "2",
			"-bios", cfg.EFI, "-drive", "file=" + cfg.Image + ",format=raw"}
	default:
		return nil, fmt.Errorf("unknown arch %q", cfg.Arch)
	}
	args = append(args, "-m", strconv.Itoa(cfg.MemoryMiB), "-display", "none", "-monitor", "none",
		"-device", "e1000,netdev=net0", "-netdev", netdev,
		"-serial", "file:"+cfg.SerialLog)
	if !cfg.AllowReboot {
		args = append(args, "-no-reboot")
	}
	if cfg.QEMU != "" {
		bin = cfg.QEMU
	}
	v := &VM{cfg: cfg, exited: make(chan struct{})}
	v.cmd = exec.Command(bin, args...)
	v.cmd.Stdout = io.Discard
	v.cmd.Stderr = &v.stderr
	// Its own process group, so that a test's cleanup ends qemu and nothing else.
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		err := v.cmd.Wait()
		v.mu.Lock()
		v.err = err
		v.mu.Unlock()
		close(v.exited)
	}()
	return v, nil
}

// Serial returns the serial console output so far.
func (v *VM) Serial() string {
	b, _ := os.ReadFile(v.cfg.SerialLog)
	return string(b)
}

// WaitFor calls probe every 300 ms until it succeeds, the context ends, qemu
// exits or the kernel panics, and returns how long it waited.
func (v *VM) WaitFor(ctx context.Context, probe func(context.Context) error) (time.Duration, error) {
	start := time.Now()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		last = probe(pctx)
		cancel()
		if last == nil {
			return time.Since(start), nil
		}
		if strings.Contains(v.Serial(), "Kernel panic") {
			return 0, fmt.Errorf("%w (last probe error: %v)", ErrKernelPanic, last)
		}
		select {
		case <-v.exited:
			v.mu.Lock()
			defer v.mu.Unlock()
			return 0, fmt.Errorf("qemu exited (%v, stderr %q) while waiting; last probe error: %w", v.err, v.stderr.String(), last)
		case <-ctx.Done():
			return 0, fmt.Errorf("gave up after %v: %w (last probe error: %v)", time.Since(start).Round(time.Second), ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Stop ends qemu and waits for it (at most 10 s).
func (v *VM) Stop() {
	select {
	case <-v.exited:
		return
	default:
	}
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-v.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
		<-v.exited
	}
}

// FreePort returns a port that is free on 127.0.0.1 for proto ("tcp" or
// "udp") right now. qemu binds it a moment later; the race is harmless in
// practice because nothing else on the machine picks ports in this range.
func FreePort(proto string) (int, error) {
	switch proto {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free tcp port: %w", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free udp port: %w", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", proto)
}

// PortFree reports whether host port on 127.0.0.1 can be bound for proto, so
// a test can say which fixed port is taken instead of qemu failing vaguely.
func PortFree(proto string, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	switch proto {
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp port %d is taken on this machine (needed for the qemu forward): %w", port, err)
		}
		return l.Close()
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("udp port %d is taken on this machine (needed for the qemu forward): %w", port, err)
		}
		return c.Close()
	}
	return fmt.Errorf("unknown protocol %q", proto)
}
