// Package hub is the Kibitz-compatible call hub: one UDP socket that answers
// ICE-lite STUN checks for the hub identities, runs a DTLS server for
// addresses that passed a check, SCTP and one in-band DCEP data channel per
// browser, and routes the JSON frames (id, join, peers, to/from, echo)
// between the sessions of a room.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// Limits bounds what one session may cost the others.
type Limits struct {
	// IdleTimeout drops a session (and an unfinished handshake) this long
	// after the last packet from its address.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds DTLS + SCTP + DCEP after the first DTLS packet.
	HandshakeTimeout time.Duration
	// MaxFrame is the largest frame delivered (the answer advertises it).
	MaxFrame int
	// SendQueueBytes and SendQueueFrames bound one session's outgoing queue;
	// beyond them frames for it are dropped and counted.
	SendQueueBytes  int
	SendQueueFrames int
	// StuckAfter disconnects a session whose queue has not moved for this long.
	StuckAfter time.Duration
	// FrameRate/FrameBurst and ByteRate/ByteBurst throttle what one session
	// sends; a session over its rate is read more slowly (SCTP flow control
	// pushes back on that sender only).
	FrameRate  float64
	FrameBurst int
	ByteRate   float64
	ByteBurst  int
	// PeersRate/PeersBurst throttle peers requests the same way.
	PeersRate  float64
	PeersBurst int
	// MaxRemotes bounds concurrent DTLS peers (sessions and handshakes).
	MaxRemotes int

	// The per-source-IP limits keep one guest (one IP) from taking the
	// tables the others need. A new entry beyond a cap evicts that IP's
	// least recently seen one, so the flooder only ever competes with itself.
	//
	// MaxCheckedPerIP bounds addresses (ports) of one IP that passed a
	// STUN check; MaxChecked bounds them over the whole hub (0: 4×MaxRemotes).
	MaxCheckedPerIP int
	MaxChecked      int
	// MaxRemotesPerIP bounds DTLS handshakes plus sessions of one IP.
	MaxRemotesPerIP int
	// HandshakeRate/HandshakeBurst bound how fast one IP may start DTLS
	// handshakes (each costs the hub an ECDHE and a signature).
	HandshakeRate  float64
	HandshakeBurst int
	// SendBudgetBytes bounds what all sessions together hold for sending:
	// their queues plus what sits unacknowledged in SCTP. Beyond
	// SendReserveBytes a session only queues while the budget has room,
	// so slow receivers cannot grow the hub's memory but each session can
	// always get its signalling through.
	SendBudgetBytes  int
	SendReserveBytes int
	// InboundQueueBytes bounds the datagrams waiting for one remote's DTLS
	// reader; InboundBudgetBytes bounds them over all remotes.
	InboundQueueBytes  int
	InboundBudgetBytes int
	// StatusRooms is how many rooms (the biggest) Stats lists by name; the
	// rest are only counted, so /status stays small whatever guests do.
	StatusRooms int
}

// DefaultLimits are sized for a Raspberry Pi serving a few rooms of a venue.
func DefaultLimits() Limits {
	return Limits{
		// 3.5 s plus the 250 ms reaper tick removes a vanished client
		// well within 5 s; a live one answers the hub's heartbeat every
		// 500 ms, so it can lose six in a row and stay.
		IdleTimeout:      3500 * time.Millisecond,
		HandshakeTimeout: 10 * time.Second,
		MaxFrame:         256 << 10,
		SendQueueBytes:   1 << 20,
		SendQueueFrames:  1 << 16,
		StuckAfter:       15 * time.Second,
		FrameRate:        50000,
		FrameBurst:       20000,
		ByteRate:         64 << 20,
		ByteBurst:        16 << 20,
		PeersRate:        20,
		PeersBurst:       50,
		MaxRemotes:       2048,

		MaxCheckedPerIP:    16,
		MaxChecked:         8192,
		MaxRemotesPerIP:    8,
		HandshakeRate:      4,
		HandshakeBurst:     8,
		SendBudgetBytes:    64 << 20,
		SendReserveBytes:   64 << 10,
		InboundQueueBytes:  1 << 20,
		InboundBudgetBytes: 32 << 20,
		StatusRooms:        32,
	}
}

// withDefaults fills the limits a caller left at zero from DefaultLimits,
// so a Config written before a limit existed still gets it.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l == (Limits{}) {
		return d
	}
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.MaxCheckedPerIP, d.MaxCheckedPerIP)
	fill(&l.MaxChecked, 4*max(l.MaxRemotes, 1))
	fill(&l.MaxRemotesPerIP, d.MaxRemotesPerIP)
	fill(&l.HandshakeBurst, d.HandshakeBurst)
	fill(&l.SendBudgetBytes, d.SendBudgetBytes)
	fill(&l.SendReserveBytes, d.SendReserveBytes)
	fill(&l.InboundQueueBytes, d.InboundQueueBytes)
	fill(&l.InboundBudgetBytes, d.InboundBudgetBytes)
	fill(&l.StatusRooms, d.StatusRooms)
	if l.HandshakeRate <= 0 {
		l.HandshakeRate = d.HandshakeRate
	}
	return l
}

// Config configures a Hub.
type Config struct {
	// ListenAddr is the UDP address, e.g. "0.0.0.0:4711" or "127.0.0.1:0".
	ListenAddr string
	// Identities the hub answers for; the STUN USERNAME selects one.
	Identities []*galaxy.Identity
	// StateDir keeps the id high-water mark; empty means no persistence.
	StateDir string
	Limits   Limits
	Logger   *slog.Logger
}

// Hub is a running call hub.
type Hub struct {
	cfg     Config
	lim     Limits
	log     *slog.Logger
	pion    logging.LoggerFactory
	conn    *net.UDPConn
	byUfrag map[string]*galaxy.Identity
	ids     *idAllocator
	router  *router
	drops   dropCounters
	start   time.Time

	mu      sync.Mutex
	remotes map[netip.AddrPort]*remote
	checked map[netip.AddrPort]*checkedAddr
	byIP    map[netip.Addr]*ipState
	// ownAddrs are this machine's addresses, exempt from per-IP caps.
	ownAddrs map[netip.Addr]bool

	// Bytes held for sending (queues and SCTP) and received but not yet
	// read by DTLS, over all sessions; see Limits.SendBudgetBytes.
	sendHeld    atomic.Int64
	inboundHeld atomic.Int64
	// bans are addresses the operator kicked, until a monotonic time.
	bans map[netip.Addr]int64

	ctx       context.Context
	wg        sync.WaitGroup
	joins     atomic.Uint64
	framesIn  atomic.Uint64
	framesOut atomic.Uint64
}

// checkedAddr is an address that passed a STUN check.
type checkedAddr struct {
	ident    *galaxy.Identity
	lastSeen int64 // monotonic ns since Hub.start
}

// New binds the UDP socket. Run serves it.
func New(cfg Config) (*Hub, error) {
	if len(cfg.Identities) == 0 {
		return nil, errors.New("hub: no identity")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Limits = cfg.Limits.withDefaults()
	h := &Hub{
		cfg:      cfg,
		lim:      cfg.Limits,
		log:      cfg.Logger,
		byUfrag:  map[string]*galaxy.Identity{},
		remotes:  map[netip.AddrPort]*remote{},
		checked:  map[netip.AddrPort]*checkedAddr{},
		byIP:     map[netip.Addr]*ipState{},
		ownAddrs: localAddrs(),
		bans:     map[netip.Addr]int64{},
		start:    time.Now(),
	}
	for _, id := range cfg.Identities {
		if _, dup := h.byUfrag[id.Ufrag]; dup {
			return nil, fmt.Errorf("hub: two identities with ufrag %q", id.Ufrag)
		}
		h.byUfrag[id.Ufrag] = id
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled // PION_LOG_DEBUG=sctp etc. still work
	h.pion = lf
	ids, err := newIDAllocator(cfg.StateDir, h.log)
	if err != nil {
		return nil, err
	}
	h.ids = ids
	h.router = newRouter()
	addr, err := net.ResolveUDPAddr("udp4", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("hub listen address %q: %w", cfg.ListenAddr, err)
	}
	conn, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("hub listen %s: %w", cfg.ListenAddr, err)
	}
	setSocketBuffers(conn, 8<<20, h.log)
	h.conn = conn
	return h, nil
}

// LocalAddr is the bound UDP address.
func (h *Hub) LocalAddr() netip.AddrPort {
	return h.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// now is monotonic time since the hub started, immune to clock jumps.
func (h *Hub) now() int64 { return int64(time.Since(h.start)) }

// Run serves until ctx ends, then closes every session and the socket.
func (h *Hub) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h.ctx = ctx
	h.log.Info("hub listening", "addr", h.LocalAddr().String(), "identities", len(h.cfg.Identities))
	readErr := make(chan error, 1)
	go func() { readErr <- h.readLoop() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			break loop
		case err = <-readErr:
			err = fmt.Errorf("hub socket: %w", err)
			break loop
		case <-tick.C:
			h.reap(n%2 == 0) // heartbeat every 500 ms
		}
	}
	h.conn.Close()
	h.mu.Lock()
	all := make([]*remote, 0, len(h.remotes))
	for _, r := range h.remotes {
		all = append(all, r)
	}
	h.mu.Unlock()
	for _, r := range all {
		r.close("hub stopping")
	}
	h.wg.Wait()
	return err
}

// reap drops remotes that went silent and forgets stale STUN checks; with
// heartbeat set it also sends an SCTP HEARTBEAT to every session, which a
// live client answers, so liveness does not hinge on the browser's STUN
// consent interval.
func (h *Hub) reap(heartbeat bool) {
	now := h.now()
	idle := int64(h.lim.IdleTimeout)
	var dead, live []*remote
	h.mu.Lock()
	for _, r := range h.remotes {
		if now-r.lastSeen.Load() > idle {
			dead = append(dead, r)
		} else if heartbeat {
			live = append(live, r)
		}
	}
	h.reapChecksLocked(now)
	h.mu.Unlock()
	for _, r := range dead {
		r.close("no packet for " + h.lim.IdleTimeout.String())
	}
	stuckAfter := int64(h.lim.StuckAfter)
	for _, r := range live {
		if s := r.session.Load(); s != nil {
			s.assoc.ActiveHeartbeat()
			if s.queue.stuckFor(now) > stuckAfter {
				h.drops.add(dropStuck)
				r.close("receiver stuck")
			}
		}
	}
}

// Stats is a snapshot for status and metrics.
type Stats struct {
	Sessions int
	Remotes  int
	// Rooms are the Limits.StatusRooms biggest rooms (most members first,
	// then by name); OtherRooms counts the rest and RoomCount all of them.
	// InCall counts the sessions in a named room.
	Rooms      []RoomStats
	OtherRooms int
	RoomCount  int
	InCall     int
	Drops      map[string]uint64
	Joins      uint64
	FramesIn   uint64
	FramesOut  uint64
	Uptime     time.Duration
}

// RoomStats is one room with its member count.
type RoomStats struct {
	Name    string
	Members int
}

// Stats returns counters and the biggest rooms. The list is bounded so the
// status document stays small however many rooms guests open.
func (h *Hub) Stats() Stats {
	st := Stats{
		Drops:     h.drops.snapshot(),
		Joins:     h.joins.Load(),
		FramesIn:  h.framesIn.Load(),
		FramesOut: h.framesOut.Load(),
		Uptime:    time.Since(h.start),
	}
	h.mu.Lock()
	st.Remotes = len(h.remotes)
	h.mu.Unlock()
	h.router.mu.RLock()
	st.Sessions = len(h.router.byID)
	all := make([]RoomStats, 0, len(h.router.rooms))
	for name, members := range h.router.rooms {
		all = append(all, RoomStats{Name: name, Members: len(members)})
		if name != "" {
			st.InCall += len(members)
		}
	}
	h.router.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].Members != all[j].Members {
			return all[i].Members > all[j].Members
		}
		return all[i].Name < all[j].Name
	})
	st.RoomCount = len(all)
	if len(all) > h.lim.StatusRooms {
		st.OtherRooms = len(all) - h.lim.StatusRooms
		all = all[:h.lim.StatusRooms:h.lim.StatusRooms]
	}
	st.Rooms = all
	return st
}

// Drop reasons, as they appear in status and metrics.
const (
	dropMalformed      = "malformed"
	dropUnknownType    = "unknown_type"
	dropOversize       = "oversize"
	dropBinary         = "binary"
	dropNotRoutable    = "not_routable"
	dropQueueFull      = "queue_full"
	dropStuck          = "stuck_disconnect"
	dropSTUNMalformed  = "stun_malformed"
	dropSTUNUnknown    = "stun_unknown_ufrag"
	dropSTUNIntegrity  = "stun_bad_integrity"
	dropSTUNOther      = "stun_not_binding_request"
	dropUnchecked      = "dtls_without_stun_check"
	dropInboundFull    = "inbound_queue_full"
	dropUnknownPacket  = "unknown_packet"
	dropTooManyRemotes = "too_many_peers"
	dropHandshake      = "handshake_failed"
	dropHandshakeRate  = "handshake_rate"
	dropRemoteEvicted  = "peer_evicted_per_ip"
	dropCheckedEvicted = "stun_check_evicted_per_ip"
	dropTooManyChecked = "stun_too_many_checked"
	dropSTUNAmplify    = "stun_response_larger_than_request"
	dropSendBudget     = "send_budget"
	dropInboundBudget  = "inbound_budget"
	dropRoomName       = "bad_room_name"
	dropBanned         = "stun_banned"
)

var dropReasons = [...]string{
	dropMalformed, dropUnknownType, dropOversize, dropBinary, dropNotRoutable,
	dropQueueFull, dropStuck, dropSTUNMalformed, dropSTUNUnknown, dropSTUNIntegrity,
	dropSTUNOther, dropUnchecked, dropInboundFull, dropUnknownPacket, dropTooManyRemotes,
	dropHandshake, dropHandshakeRate, dropRemoteEvicted, dropCheckedEvicted,
	dropTooManyChecked, dropSTUNAmplify, dropSendBudget, dropInboundBudget, dropRoomName,
	dropBanned,
}

type dropCounters struct {
	counts [len(dropReasons)]atomic.Uint64
}

func (d *dropCounters) add(reason string) {
	for i, r := range dropReasons {
		if r == reason {
			d.counts[i].Add(1)
			return
		}
	}
}

func (d *dropCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64, len(dropReasons))
	for i, r := range dropReasons {
		m[r] = d.counts[i].Load()
	}
	return m
}
