package turnrelay

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// Relayed addresses are virtual: RelayIP plus a port from this range that no
// kernel socket holds. Nothing outside this process can send to them, and an
// allocation can send only to another allocation's relayed address. Guests
// in a relay-only call (all Kibitz g2 browsers) only ever talk
// relay↔relay, so nothing is lost; what is given up on purpose is relaying to
// anything else (another LAN host, the uplink, the box's own services).
const (
	relayPortMin = 49152
	relayPortMax = 65535
)

// maxRelayPacket bounds one relayed datagram. pion reads client datagrams
// into 1600-byte buffers, so no larger payload can reach a relay.
const maxRelayPacket = 1600

// relayQueueLen is how many datagrams may wait for one allocation's pion
// goroutine. Only datagrams between allocations without a channel take this
// path (ICE checks and the first media packets; browsers bind channels at
// once), so it is short: every allocation has one, and each costs memory.
const relayQueueLen = 256

// DefaultMaxAllocations caps live allocations on the whole server, whatever
// the per-client cap, so spoofed client addresses cannot exhaust memory.
const DefaultMaxAllocations = 4096

// crowdedShare is what a client may hold once the server is three quarters
// full: a guest sending from many addresses (each under the per-client
// cap) can fill three quarters, but the last quarter is kept for clients
// that hold fewer than this many, i.e. guests that just arrived.
const crowdedShare = 4

var (
	errQuota        = errors.New("turnrelay: per-client allocation cap reached")
	errNoRelayPorts = errors.New("turnrelay: no free relay port")
	errNotUDP4      = errors.New("turnrelay: only UDP over IPv4 is relayed")
)

// channelHeader is the ChannelData header: channel number and length
// (RFC 8656 §12.4). Over UDP no padding is needed.
const channelHeader = 4

type packetBuf [channelHeader + maxRelayPacket]byte

// packet is one datagram in flight between two allocations.
type packet struct {
	buf  *packetBuf
	n    int
	from *net.UDPAddr // the sender's relayed address (shared, never mutated)
}

// relayTable holds the live relay conns by relayed address. Lookups happen
// per datagram, so the map is copy-on-write behind an atomic pointer;
// allocations are rare and take mu.
type relayTable struct {
	relayIP    netip.Addr
	avoidPort  uint16 // the TURN port itself, never handed out
	maxPerIP   int    // < 0: no cap
	maxTotal   int
	count      *counters
	bufs       sync.Pool
	conns      atomic.Pointer[map[netip.AddrPort]*relayConn]
	mu         sync.Mutex
	shaper     *shaper
	perClient  map[netip.Addr]int     // guarded by mu
	clients    map[netip.AddrPort]int // allocations per client 5-tuple source; guarded by mu
	closedDown bool                   // guarded by mu; set by closeAll
}

func newRelayTable(relayIP netip.Addr, avoidPort uint16, maxPerIP, maxTotal int, c *counters) *relayTable {
	t := &relayTable{
		relayIP:   relayIP,
		avoidPort: avoidPort,
		maxPerIP:  maxPerIP,
		maxTotal:  maxTotal,
		count:     c,
		perClient: map[netip.Addr]int{},
		clients:   map[netip.AddrPort]int{},
	}
	t.bufs.New = func() any { return new(packetBuf) }
	empty := map[netip.AddrPort]*relayConn{}
	t.conns.Store(&empty)
	return t
}

func (t *relayTable) lookup(ap netip.AddrPort) *relayConn { return (*t.conns.Load())[ap] }

func (t *relayTable) len() int { return len(*t.conns.Load()) }

func (t *relayTable) underCap(client netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.capErrLocked(client, len(*t.conns.Load())) == nil
}

// capErrLocked says why client may not have one more allocation, or nil.
func (t *relayTable) capErrLocked(client netip.Addr, total int) error {
	held := t.perClient[client]
	switch {
	case t.maxPerIP >= 0 && held >= t.maxPerIP:
		return fmt.Errorf("%w (client %v holds %d)", errQuota, client, held)
	case total >= t.maxTotal:
		return fmt.Errorf("%w (%d allocations on the server)", errQuota, total)
	case total >= t.maxTotal*3/4 && held >= crowdedShare:
		return fmt.Errorf("%w (server crowded, client %v holds %d)", errQuota, client, held)
	}
	return nil
}

// hasClient reports whether src is the client 5-tuple source of a live
// allocation.
func (t *relayTable) hasClient(src netip.AddrPort) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.clients[src] > 0
}

// allocate makes a relay conn for client, on requestedPort if non-zero.
func (t *relayTable) allocate(client netip.AddrPort, listener *guardConn, requestedPort int) (*relayConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closedDown {
		return nil, net.ErrClosed
	}
	old := *t.conns.Load()
	if err := t.capErrLocked(client.Addr(), len(old)); err != nil {
		t.count.refusedQuota.Add(1)
		return nil, err
	}
	free := func(port int) bool {
		_, used := old[netip.AddrPortFrom(t.relayIP, uint16(port))]
		return port >= relayPortMin && port <= relayPortMax && uint16(port) != t.avoidPort && !used
	}
	port := 0
	if requestedPort != 0 {
		if !free(requestedPort) {
			return nil, fmt.Errorf("%w: requested port %d", errNoRelayPorts, requestedPort)
		}
		port = requestedPort
	} else {
		const span = relayPortMax - relayPortMin + 1
		start := rand.IntN(span)
		for i := range span {
			if p := relayPortMin + (start+i)%span; free(p) {
				port = p
				break
			}
		}
		if port == 0 {
			return nil, errNoRelayPorts
		}
	}
	key := netip.AddrPortFrom(t.relayIP, uint16(port))
	c := &relayConn{
		table:      t,
		key:        key,
		addr:       net.UDPAddrFromAddrPort(key),
		client:     client,
		clientAddr: net.UDPAddrFromAddrPort(client),
		listener:   listener,
		in:         make(chan packet, relayQueueLen),
		closed:     make(chan struct{}),
	}
	noChannels := map[netip.AddrPort]uint16{}
	c.channels.Store(&noChannels)
	next := make(map[netip.AddrPort]*relayConn, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = c
	t.conns.Store(&next)
	t.perClient[client.Addr()]++
	t.clients[client]++
	return c, nil
}

func (t *relayTable) remove(c *relayConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.conns.Load()
	if old[c.key] != c {
		return
	}
	next := make(map[netip.AddrPort]*relayConn, len(old))
	for k, v := range old {
		if k != c.key {
			next[k] = v
		}
	}
	t.conns.Store(&next)
	ip := c.client.Addr()
	if t.perClient[ip]--; t.perClient[ip] <= 0 {
		delete(t.perClient, ip)
	}
	if t.clients[c.client]--; t.clients[c.client] <= 0 {
		delete(t.clients, c.client)
	}
}

// closeAll closes every relay conn and refuses new ones (shutdown).
func (t *relayTable) closeAll() {
	t.mu.Lock()
	t.closedDown = true
	t.mu.Unlock()
	for _, c := range *t.conns.Load() {
		_ = c.Close()
	}
}

// relayConn is an allocation's relay "socket". WriteTo to another
// allocation that has a channel bound to this one sends the ChannelData
// straight to that allocation's client, from the goroutine that read the
// sender's datagram: one receive and one send per relayed datagram, both
// batched (recvmmsg/sendmmsg) by the listener.
// Without a channel, the datagram goes into the destination's queue, and
// pion's goroutine for that allocation (ReadFrom) applies the permission check
// and sends a Data indication.
type relayConn struct {
	table      *relayTable
	key        netip.AddrPort
	addr       *net.UDPAddr
	client     netip.AddrPort // the allocation's client (its 5-tuple source)
	clientAddr *net.UDPAddr   // the same, for sendmmsg
	listener   *guardConn     // the socket that client talks to
	in         chan packet
	closed     chan struct{}
	once       sync.Once

	// channels mirrors pion's channel bindings of this allocation (peer
	// relayed address → channel number), kept by the server's event
	// handler; copy-on-write because it is read per datagram.
	channelsMu sync.Mutex
	channels   atomic.Pointer[map[netip.AddrPort]uint16]

	deadlineMu   sync.Mutex
	readDeadline time.Time
}

// WriteTo relays p to the allocation at addr. A datagram to any other
// address is dropped and counted; like UDP, the sender is not told.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	ap, ok := addrPortOf(addr)
	dst := (*relayConn)(nil)
	if ok {
		dst = c.table.lookup(ap)
	}
	cnt := c.table.count
	if dst == nil || len(p) > maxRelayPacket {
		cnt.droppedNoRoute.Add(1)
		return len(p), nil
	}
	if num, ok := (*dst.channels.Load())[c.key]; ok {
		// pion calls WriteTo on the goroutine of the listener this
		// allocation's client talks to; all listeners share one address,
		// so that socket can carry the datagram to dst's client too. The
		// shaper holds the sender to its share of the air.
		c.table.shaper.send(c.client.Addr(), c.listener, num, p, dst.clientAddr, &c.table.bufs)
		return len(p), nil
	}
	buf := c.table.bufs.Get().(*packetBuf)
	n := copy(buf[:], p)
	select {
	case dst.in <- packet{buf: buf, n: n, from: c.addr}:
		// Counted in ReadFrom, before pion forwards it.
	default:
		c.table.bufs.Put(buf)
		cnt.droppedQueueFull.Add(1)
	}
	return len(p), nil
}

// ReadFrom returns the next datagram another allocation sent here.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	var timeout <-chan time.Time
	c.deadlineMu.Lock()
	dl := c.readDeadline
	c.deadlineMu.Unlock()
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return 0, nil, os.ErrDeadlineExceeded
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case pkt := <-c.in:
		n := copy(p, pkt.buf[:pkt.n])
		c.table.bufs.Put(pkt.buf)
		c.table.count.relayedBytes.Add(uint64(n))
		c.table.count.relayedPackets.Add(1)
		return n, pkt.from, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

// Close removes the relayed address from the table; queued datagrams are
// dropped with it.
func (c *relayConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.table.remove(c)
	})
	return nil
}

func (c *relayConn) LocalAddr() net.Addr { return c.addr }

// setChannel records that this allocation bound channel num to peer.
func (c *relayConn) setChannel(peer netip.AddrPort, num uint16) {
	c.channelsMu.Lock()
	defer c.channelsMu.Unlock()
	old := *c.channels.Load()
	next := make(map[netip.AddrPort]uint16, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[peer] = num
	c.channels.Store(&next)
}

// deleteChannel forgets the binding of channel num to peer.
func (c *relayConn) deleteChannel(peer netip.AddrPort, num uint16) {
	c.channelsMu.Lock()
	defer c.channelsMu.Unlock()
	old := *c.channels.Load()
	if v, ok := old[peer]; !ok || v != num {
		return
	}
	next := make(map[netip.AddrPort]uint16, len(old))
	for k, v := range old {
		if k != peer {
			next[k] = v
		}
	}
	c.channels.Store(&next)
}

// SetDeadline sets the read deadline; writes never block.
func (c *relayConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline applies to ReadFrom calls made after it.
func (c *relayConn) SetReadDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	c.readDeadline = t
	c.deadlineMu.Unlock()
	return nil
}

// SetWriteDeadline is a no-op: WriteTo never blocks.
func (c *relayConn) SetWriteDeadline(time.Time) error { return nil }

// relayGenerator is pion's RelayAddressGenerator for one listener. pion calls
// it on the listener's read goroutine while handling an Allocate request, so
// listener.current names the client asking.
type relayGenerator struct {
	table    *relayTable
	listener *guardConn
}

func (g *relayGenerator) Validate() error { return nil }

func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if conf.Network != "udp4" {
		return nil, nil, fmt.Errorf("%w (asked for %s)", errNotUDP4, conf.Network)
	}
	c, err := g.table.allocate(g.listener.current, g.listener, conf.RequestedPort)
	if err != nil {
		return nil, nil, err
	}
	return c, c.addr, nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, fmt.Errorf("%w (asked for TCP)", errNotUDP4)
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, fmt.Errorf("%w (asked for TCP)", errNotUDP4)
}
