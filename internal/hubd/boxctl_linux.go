package hubd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// On the box gokrazy runs each program as /user/<name> and restarts it
// when it exits; the hub runs as root. Elsewhere (a laptop) nothing
// supervises the daemons, so reboot and restart are refused.

func onGokrazy() bool {
	_, err := os.Stat("/user/hub")
	return err == nil
}

func boxReboot() func() error {
	if !onGokrazy() {
		return nil
	}
	return func() error {
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
			return fmt.Errorf("reboot: %w", err)
		}
		return nil
	}
}

// boxRestart ends a daemon with SIGTERM; gokrazy starts it again.
func boxRestart() func(service string) error {
	if !onGokrazy() {
		return nil
	}
	return func(service string) error {
		want := "/user/" + service
		procs, err := filepath.Glob("/proc/[0-9]*/exe")
		if err != nil {
			return fmt.Errorf("restart %s: %w", service, err)
		}
		for _, exe := range procs {
			if target, err := os.Readlink(exe); err != nil || target != want {
				continue
			}
			pid, err := strconv.Atoi(filepath.Base(filepath.Dir(exe)))
			if err != nil {
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				return fmt.Errorf("restart %s (pid %d): %w", service, pid, err)
			}
			return nil
		}
		return fmt.Errorf("restart %s: it is not running", service)
	}
}
