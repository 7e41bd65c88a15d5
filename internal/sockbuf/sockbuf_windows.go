package sockbuf

import "golang.org/x/sys/windows"

// Winsock takes the plain options as asked and reports the size set.
const (
	supported                  = true
	hasForce                   = false
	optRecv, optSend           = windows.SO_RCVBUF, windows.SO_SNDBUF
	optRecvForce, optSendForce = -1, -1
	reportScale                = 1
	hint                       = ""
)

func setsockopt(fd uintptr, opt, v int) error {
	return windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, opt, v)
}

func getsockopt(fd uintptr, opt int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, opt)
}
