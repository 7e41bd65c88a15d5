package hub

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// ipState is what one source IP holds in the hub's tables. The discovery
// credentials are public, so anyone can pass a STUN check: the per-IP caps
// here are what keep one guest sending from thousands of ports from
// filling the tables that the next guest needs.
type ipState struct {
	checked []netip.AddrPort // ports of this IP with a check; ≤ MaxCheckedPerIP
	remotes []*remote        // handshakes and sessions; ≤ MaxRemotesPerIP
	hsLim   *rate.Limiter    // new DTLS handshakes
	idle    int64            // when both lists became empty (monotonic ns)
}

// localAddrs are the IPv4 addresses of this machine. Per-IP caps do not
// apply to them: that is the laptop's own browsers and tools (hubprobe
// opens 200 sessions from 127.0.0.1), and no guest can send from them —
// the kernel drops a packet from outside whose source is a local address
// (a martian), and on the box the source guard drops it earlier. Other
// loopback addresses (127.0.0.2) are capped like any guest.
func localAddrs() map[netip.Addr]bool {
	own := map[netip.Addr]bool{netip.AddrFrom4([4]byte{127, 0, 0, 1}): true}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			own[p.Addr()] = true
		}
	}
	return own
}

// ipLocked returns the state of ip, creating it. h.mu must be held.
func (h *Hub) ipLocked(ip netip.Addr) *ipState {
	st := h.byIP[ip]
	if st == nil {
		st = &ipState{hsLim: rate.NewLimiter(rate.Limit(h.lim.HandshakeRate), h.lim.HandshakeBurst)}
		h.byIP[ip] = st
	}
	return st
}

// markChecked records that from passed a STUN check for ident and reports
// whether it did; an unrecorded check must not be answered, or the client
// would start a handshake the hub then drops.
func (h *Hub) markChecked(from netip.AddrPort, ident *galaxy.Identity) bool {
	now := h.now()
	h.mu.Lock()
	c := h.checked[from]
	if c == nil {
		st := h.ipLocked(from.Addr())
		if len(st.checked) >= h.lim.MaxCheckedPerIP && !h.ownAddrs[from.Addr()] {
			// This IP's least recently seen port makes room.
			h.forgetCheckedLocked(st, st.checked[h.oldestCheckedLocked(st)])
			h.drops.add(dropCheckedEvicted)
		}
		if len(h.checked) >= h.lim.MaxChecked {
			h.mu.Unlock()
			h.drops.add(dropTooManyChecked)
			return false
		}
		c = &checkedAddr{}
		h.checked[from] = c
		st.checked = append(st.checked, from)
	}
	c.ident = ident
	c.lastSeen = now
	r := h.remotes[from]
	h.mu.Unlock()
	if r != nil {
		r.lastSeen.Store(now)
	}
	return true
}

func (h *Hub) oldestCheckedLocked(st *ipState) int {
	oldest := 0
	for i, a := range st.checked {
		if h.checked[a].lastSeen < h.checked[st.checked[oldest]].lastSeen {
			oldest = i
		}
	}
	return oldest
}

// forgetCheckedLocked removes a's check; a remote it may have keeps running.
func (h *Hub) forgetCheckedLocked(st *ipState, a netip.AddrPort) {
	delete(h.checked, a)
	for i, x := range st.checked {
		if x == a {
			st.checked = append(st.checked[:i], st.checked[i+1:]...)
			break
		}
	}
	h.maybeIdleLocked(st)
}

func (h *Hub) maybeIdleLocked(st *ipState) {
	if len(st.checked) == 0 && len(st.remotes) == 0 {
		st.idle = h.now()
	}
}

// admitLocked makes the remote for a checked address that sent its first
// DTLS packet, or returns the drop reason. h.mu must be held. It returns
// the remote this IP must give up for the new one, to be closed by the
// caller without h.mu.
func (h *Hub) admitLocked(from netip.AddrPort, c *checkedAddr) (r, evict *remote, reason string) {
	st := h.ipLocked(from.Addr())
	own := h.ownAddrs[from.Addr()]
	if !own && !st.hsLim.Allow() {
		return nil, nil, dropHandshakeRate
	}
	if !own && len(st.remotes) >= h.lim.MaxRemotesPerIP {
		evict = st.remotes[oldestRemote(st.remotes)]
		h.dropRemoteLocked(evict)
		h.drops.add(dropRemoteEvicted)
	} else if len(h.remotes) >= h.lim.MaxRemotes {
		return nil, nil, dropTooManyRemotes
	}
	r = newRemote(h, from, c.ident)
	h.remotes[from] = r
	st.remotes = append(st.remotes, r)
	return r, evict, ""
}

// oldestRemote picks the remote to evict: an unfinished handshake before a
// session, then the one heard from least recently.
func oldestRemote(rs []*remote) int {
	best := 0
	for i, r := range rs {
		b := rs[best]
		rHS, bHS := r.session.Load() == nil, b.session.Load() == nil
		if rHS != bHS {
			if rHS {
				best = i
			}
			continue
		}
		if r.lastSeen.Load() < b.lastSeen.Load() {
			best = i
		}
	}
	return best
}

// dropRemoteLocked takes r out of the tables. h.mu must be held.
func (h *Hub) dropRemoteLocked(r *remote) {
	if h.remotes[r.addr] == r {
		delete(h.remotes, r.addr)
	}
	st := h.byIP[r.addr.Addr()]
	if st == nil {
		return
	}
	for i, x := range st.remotes {
		if x == r {
			st.remotes = append(st.remotes[:i], st.remotes[i+1:]...)
			break
		}
	}
	h.maybeIdleLocked(st)
}

// ipStateLinger keeps an IP's state (its handshake rate limiter) after its
// last entry went, so closing and reopening does not reset the rate.
const ipStateLinger = int64(30 * time.Second)

// reapChecksLocked forgets checks not renewed for 30 s whose address has
// no remote, and IPs that hold nothing. h.mu must be held.
func (h *Hub) reapChecksLocked(now int64) {
	for a, c := range h.checked {
		if now-c.lastSeen > int64(30*time.Second) && h.remotes[a] == nil {
			h.forgetCheckedLocked(h.ipLocked(a.Addr()), a)
		}
	}
	for ip, st := range h.byIP {
		if len(st.checked) == 0 && len(st.remotes) == 0 && now-st.idle > ipStateLinger {
			delete(h.byIP, ip)
		}
	}
}
