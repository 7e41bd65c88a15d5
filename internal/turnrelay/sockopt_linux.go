package turnrelay

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// tuneSocket sets SO_REUSEPORT (when several sockets share the port) and the
// buffer sizes. As root SO_RCVBUFFORCE/SO_SNDBUFFORCE go past
// net.core.rmem_max/wmem_max; otherwise the kernel clamps to those limits,
// which Stats reports.
func tuneSocket(fd uintptr, reusePort bool, buf int) error {
	if reusePort {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fmt.Errorf("turnrelay: SO_REUSEPORT: %w", err)
		}
	}
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, buf) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, buf)
	}
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, buf) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, buf)
	}
	return nil
}

// socketBuffers reports the granted buffer sizes. Linux doubles the value set
// for its own bookkeeping; halve it to get back the comparable figure.
func socketBuffers(c *net.UDPConn) (rcv, snd int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("turnrelay: raw socket: %w", err)
	}
	var gerr error
	err = rc.Control(func(fd uintptr) {
		rcv, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		if gerr == nil {
			snd, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		}
	})
	if err == nil {
		err = gerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("turnrelay: read socket buffer sizes: %w", err)
	}
	return rcv / 2, snd / 2, nil
}
