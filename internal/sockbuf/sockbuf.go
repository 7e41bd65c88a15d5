// Package sockbuf asks the kernel for large UDP socket buffers in the best
// way each platform offers and reads back what it granted. Bursts of video
// and of 8 KiB data-channel frames overflow the small default buffers, and
// the kernel drops what does not fit without telling anyone, so the hub and
// the TURN relay log what they got.
//
// Linux: SO_RCVBUFFORCE/SO_SNDBUFFORCE (root or CAP_NET_ADMIN) pass the
// net.core.rmem_max/wmem_max caps; without them the plain options are
// clamped to those caps. macOS and the BSDs refuse sizes above
// kern.ipc.maxsockbuf, so the size is halved until accepted. Windows takes
// the plain options as asked.
package sockbuf

import (
	"fmt"
	"syscall"
)

// minSize is where halving a refused size stops: below it the default
// buffer is as good.
const minSize = 64 << 10

// Granted is what the kernel gave one socket.
type Granted struct {
	// Recv and Send are the buffer sizes in bytes, comparable to the size
	// asked for (Linux reports twice the size for its bookkeeping; that is
	// halved here). Zero unless Known.
	Recv, Send int
	// Known reports whether the sizes were read back from the kernel.
	Known bool
	// How names the mechanism used: "forced", "setsockopt" or, where the
	// platform offers neither, "default".
	How string
}

// Short reports whether the kernel is known to have granted less than size.
func (g Granted) Short(size int) bool { return g.Known && (g.Recv < size || g.Send < size) }

// Hint says how to get bigger buffers on this platform, for the log line
// when Granted.Short; empty where nothing can be done.
func Hint() string { return hint }

// Set asks for size bytes of receive and send buffer on the socket rc and
// returns what was granted. Refusals are not errors: the socket keeps a
// smaller buffer, and Granted says which.
func Set(rc syscall.RawConn, size int) (Granted, error) {
	var g Granted
	if err := rc.Control(func(fd uintptr) { g = set(fd, size) }); err != nil {
		return Granted{}, fmt.Errorf("sockbuf: access the socket to set %d-byte buffers: %w", size, err)
	}
	return g, nil
}

func set(fd uintptr, size int) Granted {
	if !supported {
		return Granted{How: "default"}
	}
	g := Granted{How: "setsockopt"}
	recvForced := grow(fd, optRecvForce, optRecv, size)
	sendForced := grow(fd, optSendForce, optSend, size)
	if recvForced && sendForced {
		g.How = "forced"
	}
	rcv, rerr := getsockopt(fd, optRecv)
	snd, serr := getsockopt(fd, optSend)
	if rerr == nil && serr == nil {
		g.Recv, g.Send, g.Known = rcv/reportScale, snd/reportScale, true
	}
	return g
}

// grow sets one buffer: forced where the platform has it, else the plain
// option, halving the size while the kernel refuses it. It reports whether
// the forced option took.
func grow(fd uintptr, force, plain, size int) bool {
	if hasForce && setsockopt(fd, force, size) == nil {
		return true
	}
	for s := size; s >= minSize; s /= 2 {
		if setsockopt(fd, plain, s) == nil {
			break
		}
	}
	return false
}
