package sockbuf

import "golang.org/x/sys/unix"

const (
	supported                  = true
	hasForce                   = true
	optRecv, optSend           = unix.SO_RCVBUF, unix.SO_SNDBUF
	optRecvForce, optSendForce = unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE
	// Linux reports twice the size set: the rest is its bookkeeping.
	reportScale = 2
	hint        = "run as root (the FORCE options) or raise sysctl net.core.rmem_max and net.core.wmem_max"
)

func setsockopt(fd uintptr, opt, v int) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, v)
}

func getsockopt(fd uintptr, opt int) (int, error) {
	return unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt)
}
