package ap

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"golang.org/x/sys/unix"
)

// eapolSocket carries EAPOL frames over an AF_PACKET socket bound to the
// AP interface, for drivers without CONTROL_PORT_OVER_NL80211.
type eapolSocket struct {
	ifindex int
	fd      int

	mu     sync.Mutex
	closed bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openEAPOLSocket(ifindex int) (*eapolSocket, error) {
	proto := htons(nl80211.EthertypePAE)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket for EAPOL: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind EAPOL socket to ifindex %d: %w", ifindex, err)
	}
	// A receive timeout lets the reader notice Close (closing an fd does
	// not wake a blocked recvfrom).
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("EAPOL socket timeout: %w", err)
	}
	return &eapolSocket{ifindex: ifindex, fd: fd}, nil
}

func (s *eapolSocket) send(dst net.HardwareAddr, frame []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(nl80211.EthertypePAE), Ifindex: s.ifindex, Halen: 6}
	copy(sa.Addr[:], dst)
	if err := unix.Sendto(s.fd, frame, 0, sa); err != nil {
		return fmt.Errorf("send EAPOL to %s over AF_PACKET: %w", dst, err)
	}
	return nil
}

// receive hands every frame to deliver until the socket is closed.
func (s *eapolSocket) receive(deliver func(net.HardwareAddr, []byte), log *slog.Logger) {
	buf := make([]byte, 4096)
	for {
		s.mu.Lock()
		closed, fd := s.closed, s.fd
		s.mu.Unlock()
		if closed {
			unix.Close(fd) // here, so no recvfrom can run on a reused fd number
			return
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			s.mu.Lock()
			closed = s.closed
			s.mu.Unlock()
			if !closed {
				log.Error("EAPOL socket failed", "err", err)
			}
			s.Close()
			unix.Close(fd)
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Halen != 6 || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		deliver(net.HardwareAddr(append([]byte(nil), ll.Addr[:6]...)), append([]byte(nil), buf[:n]...))
	}
}

// Close stops the socket; the reader closes the descriptor within a
// second.
func (s *eapolSocket) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
