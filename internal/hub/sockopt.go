package hub

import (
	"log/slog"
	"net"

	"github.com/kibitzbox/kibitzbox/internal/sockbuf"
)

// setSocketBuffers asks for big kernel buffers so bursts of 8 KiB frames
// (many 1.2 KB SCTP packets) are not dropped by the kernel, in the best way
// the platform offers (see package sockbuf), and logs what was granted.
func setSocketBuffers(c *net.UDPConn, size int, log *slog.Logger) {
	raw, err := c.SyscallConn()
	if err != nil {
		log.Warn("hub socket buffers left at the system default", "err", err)
		return
	}
	g, err := sockbuf.Set(raw, size)
	if err != nil {
		log.Warn("hub socket buffers left at the system default", "err", err)
		return
	}
	attrs := []any{"asked", size, "how", g.How}
	if g.Known {
		attrs = append(attrs, "rcvbuf", g.Recv, "sndbuf", g.Send)
	}
	if g.Short(size) && sockbuf.Hint() != "" {
		attrs = append(attrs, "hint", sockbuf.Hint())
	}
	log.Info("hub socket buffers", attrs...)
}
