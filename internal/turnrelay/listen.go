package turnrelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/kibitzbox/kibitzbox/internal/sockbuf"
)

// listenShared binds n UDP sockets to ip:port with SO_REUSEPORT so the kernel
// spreads clients over them (by source address hash, so one client always
// lands on the same socket and thus the same pion allocation manager), and
// asks for buf bytes of socket buffer on each. It returns the sockets and
// what the kernel granted on the first.
func listenShared(ip netip.Addr, port, n, buf int) ([]*net.UDPConn, sockbuf.Granted, error) {
	var lc net.ListenConfig
	if n > 1 {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var sockErr error
			if err := rc.Control(func(fd uintptr) { sockErr = setReusePort(fd) }); err != nil {
				return err
			}
			return sockErr
		}
	}
	var granted sockbuf.Granted
	conns := make([]*net.UDPConn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	network := "udp4"
	if ip.Is6() && !ip.Is4In6() {
		network = "udp6"
	}
	for i := range n {
		addr := net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(port))
		pc, err := lc.ListenPacket(context.Background(), network, addr)
		if err != nil {
			closeAll()
			return nil, sockbuf.Granted{}, fmt.Errorf("turnrelay: listen %d of %d on udp %s: %w", i+1, n, addr, err)
		}
		uc, ok := pc.(*net.UDPConn)
		if !ok {
			_ = pc.Close()
			closeAll()
			return nil, sockbuf.Granted{}, errors.New("turnrelay: ListenPacket did not return a UDP socket")
		}
		conns = append(conns, uc)
		rc, err := uc.SyscallConn()
		if err == nil {
			var g sockbuf.Granted
			g, err = sockbuf.Set(rc, buf)
			if i == 0 {
				granted = g
			}
		}
		if err != nil {
			closeAll()
			return nil, sockbuf.Granted{}, fmt.Errorf("turnrelay: socket buffers of listener %d: %w", i+1, err)
		}
		if port == 0 {
			// The first socket picked a free port; the others share it.
			port = uc.LocalAddr().(*net.UDPAddr).Port
		}
	}
	return conns, granted, nil
}
