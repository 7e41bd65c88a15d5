package turnrelay

import (
	"fmt"
	"net"
	"runtime"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// defaultListeners is one socket per CPU: Linux's SO_REUSEPORT spreads the
// clients over them by source address hash.
func defaultListeners() int { return runtime.NumCPU() }

// setReusePort lets several sockets bind the same port; it must be set
// before bind.
func setReusePort(fd uintptr) error {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fmt.Errorf("turnrelay: SO_REUSEPORT: %w", err)
	}
	return nil
}

// newBatchConn moves up to batchLen datagrams per recvmmsg/sendmmsg.
func newBatchConn(c *net.UDPConn) batchConn { return ipv4.NewPacketConn(c) }
