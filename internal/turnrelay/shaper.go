package turnrelay

import (
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/air"
)

// The shaper holds each guest's relayed media to its fair share of the air
// budget (internal/air, docs/air.md). A guest is a client IP: with the
// hotspot's source guard a guest can only send from its leased address.
// It shapes the channel path, where the media flows; the few datagrams
// between allocations without a channel (ICE checks, the first packets)
// pass unshaped but are counted.

// Shaper timing: shares are recomputed twice a second; a guest silent for
// idleAfter is forgotten (its worker ends).
const (
	rebalanceEvery = 500 * time.Millisecond
	idleAfter      = 30 * time.Second
	// deferQueue bounds a guest's held datagrams; the pacer's 60 ms
	// bound is reached first at any share above 200 kb/s.
	deferQueue = 64
)

type shaper struct {
	count  *counters
	start  time.Time
	budget atomic.Int64 // bits per second; 0 = no limit

	mu     sync.Mutex
	guests map[netip.Addr]*guestShape
}

type guestShape struct {
	addr netip.Addr

	mu    sync.Mutex
	pacer air.Pacer
	// offered measures what the guest sends (its demand); relayed what
	// the pacer lets through (what the air carries, for /status).
	offered  air.Meter
	relayed  air.Meter
	lastSeen int64
	// held counts deferred and dropped datagrams at the last rebalance, to
	// tell whether the guest was held back since.
	held  uint64
	share float64

	queue chan deferred
	done  chan struct{}
}

// deferred is a datagram the pacer holds until due.
type deferred struct {
	due int64
	num uint16
	buf *packetBuf
	n   int
	to  *net.UDPAddr
	via *guardConn
}

func newShaper(c *counters) *shaper {
	return &shaper{count: c, start: time.Now(), guests: map[netip.Addr]*guestShape{}}
}

func (s *shaper) now() int64 { return int64(time.Since(s.start)) }

// setBudget changes the budget (kb/s; 0 = no limit); it applies at the
// next rebalance.
func (s *shaper) setBudget(kbps int) { s.budget.Store(int64(kbps) * 1000) }

func (s *shaper) guest(addr netip.Addr) *guestShape {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guests[addr]
	if g == nil {
		g = &guestShape{addr: addr, queue: make(chan deferred, deferQueue), done: make(chan struct{})}
		if b := s.budget.Load(); b > 0 {
			// Until the first rebalance a newcomer may use an equal split.
			g.pacer.SetRate(float64(b) / float64(len(s.guests)+1))
		}
		s.guests[addr] = g
		go s.work(g)
	}
	return g
}

// send relays p from the guest at from over via to the peer client at to
// on channel num: now, after the pacer's delay, or not at all.
func (s *shaper) send(from netip.Addr, via *guardConn, num uint16, p []byte, to *net.UDPAddr, bufs *sync.Pool) {
	g := s.guest(from)
	now := s.now()
	g.mu.Lock()
	g.offered.Add(now, len(p))
	g.lastSeen = now
	delay, ok := g.pacer.Offer(now, len(p))
	if ok {
		// Counted when admitted; a held datagram goes out within 60 ms.
		g.relayed.Add(now, len(p))
	}
	g.mu.Unlock()
	switch {
	case !ok:
		s.count.droppedPacing.Add(1)
	case delay == 0:
		via.sendChannelData(num, p, to)
	default:
		buf := bufs.Get().(*packetBuf)
		n := copy(buf[:], p)
		select {
		case g.queue <- deferred{due: now + delay, num: num, buf: buf, n: n, to: to, via: via}:
		default:
			bufs.Put(buf)
			s.count.droppedPacing.Add(1)
		}
	}
}

// work sends a guest's held datagrams when they are due, in order.
func (s *shaper) work(g *guestShape) {
	for {
		select {
		case d := <-g.queue:
			if wait := d.due - s.now(); wait > 0 {
				time.Sleep(time.Duration(wait))
			}
			d.via.sendChannelData(d.num, d.buf[:d.n], d.to)
			d.via.srv.table.bufs.Put(d.buf)
		case <-g.done:
			return
		}
	}
}

// rebalance hands out the budget by max-min fairness from the rates of
// the last second, and forgets guests that went quiet.
func (s *shaper) rebalance() {
	now := s.now()
	budget := float64(s.budget.Load())
	s.mu.Lock()
	guests := make([]*guestShape, 0, len(s.guests))
	for addr, g := range s.guests {
		g.mu.Lock()
		idle := now-g.lastSeen > int64(idleAfter)
		g.mu.Unlock()
		if idle {
			delete(s.guests, addr)
			close(g.done)
			continue
		}
		guests = append(guests, g)
	}
	s.mu.Unlock()
	demands := make([]air.Demand, len(guests))
	for i, g := range guests {
		g.mu.Lock()
		held := g.pacer.Deferred + g.pacer.Dropped
		demands[i] = air.Demand{Guest: g.addr.String(), RateBps: g.offered.Bps(now), Limited: held > g.held}
		g.held = held
		g.mu.Unlock()
	}
	shares := air.Shares(budget, demands)
	for _, g := range guests {
		share := shares[g.addr.String()]
		g.mu.Lock()
		if budget > 0 && share < air.AudioBps {
			// Never below what a voice needs; audio-sized packets pass
			// anyway, this keeps a little video moving.
			share = air.AudioBps
		}
		g.share = share
		g.pacer.SetRate(share)
		g.mu.Unlock()
	}
}

// GuestRate is one guest's relayed rate and share.
type GuestRate struct {
	Addr netip.Addr
	// Bps is the relayed rate over the last second; ShareBps the rate the
	// relay holds it to (0: no limit).
	Bps, ShareBps float64
	// Dropped counts the guest's datagrams the pacer dropped.
	Dropped uint64
}

// AirStats is the relay's view of the air budget.
type AirStats struct {
	BudgetBps float64
	TotalBps  float64
	Guests    []GuestRate
}

func (s *shaper) stats() AirStats {
	now := s.now()
	st := AirStats{BudgetBps: float64(s.budget.Load())}
	s.mu.Lock()
	for _, g := range s.guests {
		g.mu.Lock()
		r := GuestRate{Addr: g.addr, Bps: g.relayed.Bps(now), ShareBps: g.share, Dropped: g.pacer.Dropped}
		g.mu.Unlock()
		st.TotalBps += r.Bps
		st.Guests = append(st.Guests, r)
	}
	s.mu.Unlock()
	sort.Slice(st.Guests, func(i, j int) bool { return st.Guests[i].Bps > st.Guests[j].Bps })
	return st
}

// close ends every worker.
func (s *shaper) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, g := range s.guests {
		delete(s.guests, addr)
		close(g.done)
	}
}
