package hub

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5/deadline"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// inboundQueue bounds datagrams waiting for one remote's DTLS reader. It is
// deep enough for a burst of a full SCTP receive window in 1.2 KB packets;
// the queue only holds memory while packets wait. Limits.InboundQueueBytes
// bounds the same queue in bytes (a datagram may be 64 KiB).
const inboundQueue = 2048

// remote is one browser address: a net.PacketConn for the DTLS server that
// reads the datagrams the hub's read loop demultiplexed to it and writes
// through the hub's socket.
type remote struct {
	hub      *Hub
	addr     netip.AddrPort
	udpAddr  *net.UDPAddr
	ident    *galaxy.Identity
	in       packetQueue
	lastSeen atomic.Int64
	session  atomic.Pointer[session]

	readDeadline *deadline.Deadline
	done         chan struct{}
	closeOnce    sync.Once
	reason       atomic.Pointer[string]

	closersMu sync.Mutex
	isDone    bool
	closers   []func()
}

func newRemote(h *Hub, addr netip.AddrPort, ident *galaxy.Identity) *remote {
	r := &remote{
		hub:          h,
		addr:         addr,
		udpAddr:      net.UDPAddrFromAddrPort(addr),
		ident:        ident,
		in:           packetQueue{ready: make(chan struct{}, 1)},
		readDeadline: deadline.New(),
		done:         make(chan struct{}),
	}
	r.lastSeen.Store(h.now())
	return r
}

// deliver queues a copy of pkt without ever blocking the read loop.
func (r *remote) deliver(pkt []byte) {
	h := r.hub
	n := int64(len(pkt))
	if h.inboundHeld.Add(n) > int64(h.lim.InboundBudgetBytes) {
		h.inboundHeld.Add(-n)
		h.drops.add(dropInboundBudget)
		return
	}
	if !r.in.push(append([]byte(nil), pkt...), h.lim.InboundQueueBytes) {
		h.inboundHeld.Add(-n)
		h.drops.add(dropInboundFull)
	}
}

// packetQueue is a FIFO of datagrams with one reader.
type packetQueue struct {
	mu    sync.Mutex
	pkts  [][]byte
	head  int
	bytes int
	shut  bool // closed: push refuses, so nothing is left counted
	ready chan struct{}
}

// shutdown empties the queue for good and returns the bytes it held.
func (q *packetQueue) shutdown() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.bytes
	q.shut, q.pkts, q.head, q.bytes = true, nil, 0, 0
	return n
}

func (q *packetQueue) push(p []byte, maxBytes int) bool {
	q.mu.Lock()
	if q.shut || len(q.pkts)-q.head >= inboundQueue || q.bytes+len(p) > maxBytes {
		q.mu.Unlock()
		return false
	}
	if q.head >= 1024 { // never fully drained: slide down instead of growing
		n := copy(q.pkts, q.pkts[q.head:])
		clear(q.pkts[n:])
		q.pkts = q.pkts[:n]
		q.head = 0
	}
	q.pkts = append(q.pkts, p)
	q.bytes += len(p)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

func (q *packetQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.pkts) {
		return nil, false
	}
	p := q.pkts[q.head]
	q.pkts[q.head] = nil
	q.head++
	q.bytes -= len(p)
	if q.head == len(q.pkts) {
		q.head = 0
		if cap(q.pkts) > 64 {
			q.pkts = nil // an idle remote holds no burst-sized array
		} else {
			q.pkts = q.pkts[:0]
		}
	}
	return p, true
}

// close ends the remote: its session (if any) says goodbye to its room, and
// the address must pass a STUN check again to come back.
func (r *remote) close(reason string) {
	r.closeOnce.Do(func() {
		r.reason.Store(&reason)
		close(r.done)
		h := r.hub
		h.mu.Lock()
		h.dropRemoteLocked(r)
		h.mu.Unlock()
		h.inboundHeld.Add(-int64(r.in.shutdown()))
		r.closersMu.Lock()
		r.isDone = true
		fns := r.closers
		r.closers = nil
		r.closersMu.Unlock()
		// Teardown runs elsewhere: closers call back into Close.
		go func() {
			for i := len(fns) - 1; i >= 0; i-- {
				fns[i]()
			}
		}()
	})
}

// onDone registers f to run (in another goroutine) once the remote closes.
func (r *remote) onDone(f func()) {
	r.closersMu.Lock()
	if r.isDone {
		r.closersMu.Unlock()
		go f()
		return
	}
	r.closers = append(r.closers, f)
	r.closersMu.Unlock()
}

func (r *remote) closeReason() string {
	if p := r.reason.Load(); p != nil {
		return *p
	}
	return ""
}

// ReadFrom implements net.PacketConn for the DTLS server.
func (r *remote) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if pkt, ok := r.in.pop(); ok {
			r.hub.inboundHeld.Add(-int64(len(pkt)))
			return copy(p, pkt), r.udpAddr, nil
		}
		select {
		case <-r.in.ready:
		case <-r.done:
			return 0, nil, net.ErrClosed
		case <-r.readDeadline.Done():
			return 0, nil, timeoutError{}
		}
	}
}

// WriteTo implements net.PacketConn; it always writes to the remote's address.
func (r *remote) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-r.done:
		return 0, net.ErrClosed
	default:
	}
	return r.hub.conn.WriteToUDPAddrPort(p, r.addr)
}

func (r *remote) Close() error {
	r.close("closed")
	return nil
}

func (r *remote) LocalAddr() net.Addr { return r.hub.conn.LocalAddr() }

func (r *remote) SetDeadline(t time.Time) error {
	r.readDeadline.Set(t)
	return nil
}

func (r *remote) SetReadDeadline(t time.Time) error {
	r.readDeadline.Set(t)
	return nil
}

func (r *remote) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
