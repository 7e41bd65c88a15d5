//go:build unix && !linux

package sockbuf

import "golang.org/x/sys/unix"

// macOS and the BSDs have no forced variant; they refuse (ENOBUFS) a size
// above kern.ipc.maxsockbuf instead of clamping it, which grow handles by
// halving.
const (
	supported                  = true
	hasForce                   = false
	optRecv, optSend           = unix.SO_RCVBUF, unix.SO_SNDBUF
	optRecvForce, optSendForce = -1, -1
	reportScale                = 1
	hint                       = "raise sysctl kern.ipc.maxsockbuf"
)

func setsockopt(fd uintptr, opt, v int) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, v)
}

func getsockopt(fd uintptr, opt int) (int, error) {
	return unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt)
}
