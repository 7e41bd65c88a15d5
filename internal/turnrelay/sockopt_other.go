//go:build !linux

package turnrelay

import (
	"errors"
	"net"
)

// defaultListeners is a single socket: only Linux's SO_REUSEPORT balances
// UDP clients over several sockets (macOS and the BSDs hand each datagram
// to one of them, Windows has no such option).
func defaultListeners() int { return 1 }

func setReusePort(uintptr) error {
	return errors.New("turnrelay: several listeners need Linux (SO_REUSEPORT); set Listeners to 1")
}

// newBatchConn moves one datagram per system call: x/net has no recvmsg on
// Windows, and no recvmmsg outside Linux.
func newBatchConn(c *net.UDPConn) batchConn { return singleConn{c} }
