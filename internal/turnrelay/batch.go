package turnrelay

import (
	"net"

	"golang.org/x/net/ipv4"
)

// batchConn moves datagrams between a listener socket and ipv4.Messages:
// several per system call on Linux (recvmmsg/sendmmsg, ipv4.PacketConn),
// one at a time elsewhere (singleConn). Windows has no recvmsg at all in
// x/net, so ipv4.PacketConn.ReadBatch fails there on every call.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// singleConn is the portable batchConn: one datagram per read, one write
// per message.
type singleConn struct{ c *net.UDPConn }

// ReadBatch reads one datagram into ms[0].
func (s singleConn) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	if len(ms) == 0 || len(ms[0].Buffers) == 0 {
		return 0, nil
	}
	n, addr, err := s.c.ReadFromUDP(ms[0].Buffers[0])
	if err != nil {
		return 0, err
	}
	ms[0].N, ms[0].Addr = n, addr
	return 1, nil
}

// WriteBatch writes the messages in order and, like sendmmsg, stops at the
// first that fails: the count says how many went out, the error is only
// returned when none did.
func (s singleConn) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	for i := range ms {
		if len(ms[i].Buffers) == 0 {
			continue
		}
		if _, err := s.c.WriteTo(ms[i].Buffers[0], ms[i].Addr); err != nil {
			if i == 0 {
				return 0, err
			}
			return i, nil
		}
		ms[i].N = len(ms[i].Buffers[0])
	}
	return len(ms), nil
}
