//go:build !linux

package turnrelay

import (
	"errors"
	"net"
)

// tuneSocket sets the buffer sizes; sharing the port needs Linux's
// SO_REUSEPORT semantics, so elsewhere only one listener is supported.
func tuneSocket(_ uintptr, reusePort bool, _ int) error {
	if reusePort {
		return errors.New("turnrelay: several listeners need Linux (SO_REUSEPORT); set Listeners to 1")
	}
	return nil
}

func socketBuffers(c *net.UDPConn) (rcv, snd int, err error) {
	return 0, 0, nil
}
