package turnrelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// listenShared binds n UDP sockets to ip:port with SO_REUSEPORT so the kernel
// spreads clients over them (by source address hash, so one client always
// lands on the same socket and thus the same pion allocation manager). It
// returns the sockets and the receive and send buffer sizes granted.
func listenShared(ip netip.Addr, port, n, buf int) ([]*net.UDPConn, int, int, error) {
	var sockErr error
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		if err := rc.Control(func(fd uintptr) { sockErr = tuneSocket(fd, n > 1, buf) }); err != nil {
			return err
		}
		return sockErr
	}}
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
			return nil, 0, 0, fmt.Errorf("turnrelay: listen %d of %d on udp %s: %w", i+1, n, addr, err)
		}
		uc, ok := pc.(*net.UDPConn)
		if !ok {
			_ = pc.Close()
			closeAll()
			return nil, 0, 0, errors.New("turnrelay: ListenPacket did not return a UDP socket")
		}
		conns = append(conns, uc)
		if port == 0 {
			// The first socket picked a free port; the others share it.
			port = uc.LocalAddr().(*net.UDPAddr).Port
		}
	}
	rcv, snd, err := socketBuffers(conns[0])
	if err != nil {
		closeAll()
		return nil, 0, 0, err
	}
	return conns, rcv, snd, nil
}
