package turnrelay

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	"golang.org/x/net/ipv4"
)

// guardConn wraps one listener socket for pion. It drops datagrams from
// outside the client networks before pion sees them (no answer at all, so
// the relay cannot be probed or used as a reflector from elsewhere), and it
// remembers the request being handled: pion reads a datagram and handles it
// on the same goroutine before reading the next, and its permission handler
// and relay address generator only get part of the request (the peer IP
// without the port, no client address), so they look here for the rest.
type guardConn struct {
	*net.UDPConn
	srv   *Server
	batch batchConn // recvmmsg/sendmmsg on the same socket where there are such calls

	// Read batch, only touched by the listener's goroutine.
	rmsgs       []ipv4.Message
	rnext, rlen int

	// Outgoing ChannelData to clients, sent with one sendmmsg before the
	// listener blocks for more input or when the batch is full.
	wmu     sync.Mutex
	wmsgs   []ipv4.Message // guarded by wmu
	wlen    int            // guarded by wmu
	reading bool           // guarded by wmu; false while blocked in recvmmsg

	// Only touched by the goroutine pion runs for this listener.
	current netip.AddrPort   // source of the datagram being handled
	peers   []netip.AddrPort // XOR-PEER-ADDRESS values of a CreatePermission or ChannelBind request
	// The net.Addr handed to pion for current; reused while the source
	// stays the same, which saves an allocation per media datagram.
	currentAddr *net.UDPAddr
}

// batchLen is how many datagrams one recvmmsg/sendmmsg moves at most.
const batchLen = 32

// maxReadFailures is how many consecutive read errors a listener survives.
const maxReadFailures = 100

// readBufLen bounds a datagram read; longer ones are truncated, and pion
// drops anything that fills its 1600-byte buffer.
const readBufLen = 2048

func newGuardConn(c *net.UDPConn, s *Server) *guardConn {
	g := &guardConn{
		UDPConn: c,
		srv:     s,
		batch:   newBatchConn(c),
		rmsgs:   make([]ipv4.Message, batchLen),
		wmsgs:   make([]ipv4.Message, batchLen),
	}
	for i := range g.rmsgs {
		g.rmsgs[i].Buffers = [][]byte{make([]byte, readBufLen)}
		g.wmsgs[i].Buffers = [][]byte{make([]byte, channelHeader+maxRelayPacket)}
	}
	return g
}

// next returns the next datagram, reading a new batch when the last is used
// up. Pending sends go out first, since the read may block.
func (g *guardConn) next() (*ipv4.Message, error) {
	failures := 0
	for g.rnext >= g.rlen {
		g.flush(false)
		n, err := g.batch.ReadBatch(g.rmsgs, 0)
		if err != nil {
			// pion ends the listener on an error, so only give up when the
			// socket is closed or keeps failing.
			if failures++; errors.Is(err, net.ErrClosed) || failures > maxReadFailures {
				return nil, err
			}
			g.srv.log.Warn("TURN listener read failed; retrying", "addr", g.LocalAddr().String(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		g.wmu.Lock()
		g.reading = true
		g.wmu.Unlock()
		g.rnext, g.rlen = 0, n
	}
	m := &g.rmsgs[g.rnext]
	g.rnext++
	return m, nil
}

// sendChannelData queues ChannelData (channel num, payload p) for the client
// at to, to go out with the listener's next sendmmsg.
func (g *guardConn) sendChannelData(num uint16, p []byte, to *net.UDPAddr) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	m := &g.wmsgs[g.wlen]
	b := m.Buffers[0][:cap(m.Buffers[0])]
	binary.BigEndian.PutUint16(b[0:2], num)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(p)))
	n := copy(b[channelHeader:], p)
	m.Buffers[0] = b[:channelHeader+n]
	m.Addr = to
	g.wlen++
	// Counted before the send so the counters never lag what a client has
	// already received; flushLocked takes back what could not be sent.
	g.srv.count.relayedBytes.Add(uint64(n))
	g.srv.count.relayedPackets.Add(1)
	// Called from elsewhere than the read loop (or that loop is about to
	// block): nobody would flush soon, so send now.
	if g.wlen == len(g.wmsgs) || !g.reading {
		g.flushLocked()
	}
}

// flush sends the queued ChannelData and records whether the read loop will
// come back to flush again (false: it is about to block in recvmmsg).
func (g *guardConn) flush(keepReading bool) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.reading = keepReading
	g.flushLocked()
}

func (g *guardConn) flushLocked() {
	var failedPkts, failedBytes uint64
	// sendmmsg stops at the first datagram it cannot send (e.g. a
	// destination the kernel refuses): count that one as lost and go on with
	// the rest. Each round makes progress, so this ends within wlen rounds.
	for i := 0; i < g.wlen; {
		n, err := g.batch.WriteBatch(g.wmsgs[i:g.wlen], 0)
		if err != nil || n == 0 {
			failedPkts++
			failedBytes += uint64(len(g.wmsgs[i].Buffers[0]) - channelHeader)
			i++
			continue
		}
		i += n
	}
	if failedPkts > 0 {
		cnt := g.srv.count
		cnt.relayedBytes.Add(-failedBytes)
		cnt.relayedPackets.Add(-failedPkts)
		cnt.droppedSendFailed.Add(failedPkts)
	}
	g.wlen = 0
}

// ReadFrom returns the next datagram from a client network.
func (g *guardConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		m, err := g.next()
		if err != nil {
			return 0, nil, err
		}
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		n := copy(p, m.Buffers[0][:m.N])
		ap := ua.AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if !g.srv.fromClientNet(ap.Addr()) {
			g.srv.count.refusedClientNet.Add(1)
			continue
		}
		if ap != g.current || g.currentAddr == nil {
			g.current, g.currentAddr = ap, net.UDPAddrFromAddrPort(ap)
		}
		if isDeallocate(p[:n]) && !g.srv.dealloc.allow(ap, g.srv.table) {
			g.srv.count.refusedDeallocate.Add(1)
			continue
		}
		g.peers = g.peers[:0]
		if isPermissionRequest(p[:n]) {
			g.peers = appendPeerAddrs(g.peers, p[:n])
		}
		return n, g.currentAddr, nil
	}
}

// permitPeer is pion's PermissionHandler for this listener. TURN permissions
// are per IP, but relayed addresses are IP:port, so the full peer addresses
// come from the request itself: every peer with this IP must be a live
// relayed address of this server. That refuses 127.0.0.1, the box's own
// services, the TURN port, other LAN hosts and the uplink.
func (g *guardConn) permitPeer(client net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	ip = ip.Unmap()
	src, okClient := addrPortOf(client)
	matched := false
	if ok && okClient && src == g.current {
		for _, pa := range g.peers {
			if pa.Addr() != ip {
				continue
			}
			if g.srv.table.lookup(pa) == nil {
				matched = false
				break
			}
			matched = true
		}
	}
	if !matched {
		g.srv.count.refusedPermission.Add(1)
		g.srv.log.Debug("TURN permission refused: peer is not a relayed address of this server",
			"client", addrString(client), "peer", ip.String())
	}
	return matched
}

func (s *Server) fromClientNet(ip netip.Addr) bool {
	return slices.ContainsFunc(s.cfg.ClientNets, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// isPermissionRequest reports whether b is a STUN CreatePermission or
// ChannelBind request; ChannelData and everything else is skipped cheaply.
func isPermissionRequest(b []byte) bool {
	if len(b) < 20 || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return false
	}
	t := binary.BigEndian.Uint16(b[0:2])
	return t == stun.NewType(stun.MethodCreatePermission, stun.ClassRequest).Value() ||
		t == stun.NewType(stun.MethodChannelBind, stun.ClassRequest).Value()
}

// appendPeerAddrs decodes the XOR-PEER-ADDRESS attributes of the STUN
// message b. A malformed message yields none, and pion then refuses it.
func appendPeerAddrs(dst []netip.AddrPort, b []byte) []netip.AddrPort {
	m := &stun.Message{Raw: slices.Clone(b)}
	if m.Decode() != nil {
		return dst
	}
	for _, a := range m.Attributes {
		if a.Type != stun.AttrXORPeerAddress {
			continue
		}
		// XOR-PEER-ADDRESS is encoded like XOR-MAPPED-ADDRESS (RFC 5766 §14.3).
		one := &stun.Message{TransactionID: m.TransactionID}
		one.Add(stun.AttrXORMappedAddress, a.Value)
		var xa stun.XORMappedAddress
		if xa.GetFrom(one) != nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(xa.IP)
		if !ok {
			continue
		}
		dst = append(dst, netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port)))
	}
	return dst
}

// isDeallocate reports whether b is a Refresh request with LIFETIME 0,
// which ends an allocation.
func isDeallocate(b []byte) bool {
	if len(b) < 20 || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie ||
		binary.BigEndian.Uint16(b[0:2]) != stun.NewType(stun.MethodRefresh, stun.ClassRequest).Value() {
		return false
	}
	m := &stun.Message{Raw: slices.Clone(b)}
	if m.Decode() != nil {
		return false
	}
	v, err := m.Get(stun.AttrLifetime)
	return err == nil && len(v) == 4 && binary.BigEndian.Uint32(v) == 0
}

// deallocGuard stands between a guest and another guest's allocation.
// pion ends an allocation on a Refresh with LIFETIME 0 that carries valid
// long-term credentials and comes from the allocation's 5-tuple; but the
// box's TURN credentials are public (in every blob) and pion's nonce is the
// same for every client within a minute, so whoever can send with another
// guest's source address and port can end that guest's allocation. The
// hotspot's source guard (a source IP must be its MAC's lease) stops the
// forged address; this guard stops the guessing of the port: a source IP
// whose deallocations name more than maxDeallocMisses 5-tuples without an
// allocation in a minute may not deallocate at all until the minute is over
// (its allocations then simply expire).
type deallocGuard struct {
	mu     sync.Mutex
	window time.Time
	misses map[netip.Addr]int
}

const (
	maxDeallocMisses = 8
	// maxDeallocIPs bounds the table; beyond it every miss counts as over.
	maxDeallocIPs = 4096
)

func (d *deallocGuard) allow(src netip.AddrPort, table *relayTable) bool {
	has := table.hasClient(src)
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := time.Now(); now.Sub(d.window) > time.Minute || d.misses == nil {
		d.window, d.misses = now, map[netip.Addr]int{}
	}
	ip := src.Addr()
	if !has {
		if _, seen := d.misses[ip]; seen || len(d.misses) < maxDeallocIPs {
			d.misses[ip]++
		}
		// Nothing to end: pion would answer 437 to an address that may not
		// have asked.
		return false
	}
	return d.misses[ip] <= maxDeallocMisses
}

// stunMagicCookie is the fixed STUN magic cookie (RFC 5389 §6).
const stunMagicCookie = 0x2112A442
