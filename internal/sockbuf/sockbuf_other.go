//go:build !unix && !windows

package sockbuf

import "errors"

// Elsewhere (wasip1, plan9, js) the socket keeps the system's buffers.
const (
	supported                  = false
	hasForce                   = false
	optRecv, optSend           = -1, -1
	optRecvForce, optSendForce = -1, -1
	reportScale                = 1
	hint                       = ""
)

var errUnsupported = errors.New("sockbuf: socket options are not supported on this platform")

func setsockopt(uintptr, int, int) error { return errUnsupported }

func getsockopt(uintptr, int) (int, error) { return 0, errUnsupported }
