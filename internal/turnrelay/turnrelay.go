// Package turnrelay runs the box's TURN relay (pion/turn, long-term
// credentials, UDP) locked down for guests: allocations only from the guest
// subnets, per-client allocation caps, and permissions only towards relayed
// addresses of this same server. Relayed addresses are virtual: the relay
// sockets live in memory, so traffic from one allocation to another never
// goes through the kernel and cannot leave the box.
package turnrelay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/sockbuf"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// DefaultRealm is the realm the Kibitz web client expects.
const DefaultRealm = "kibitz"

// DefaultSocketBuffer is the receive and send buffer size asked for on each
// listener: enough for a few hundred milliseconds of several video streams.
const DefaultSocketBuffer = 4 << 20

// DefaultMaxAllocationsPerClient applies when the Config leaves the cap at 0.
// A browser in a mesh call of n people makes one allocation per other person
// (per RTCPeerConnection), so this allows calls of a few dozen people.
const DefaultMaxAllocationsPerClient = 40

// Config configures a Server. Zero values of the optional fields pick the
// defaults noted on each.
type Config struct {
	// Port is the UDP port the listeners bind; 0 picks a free one (tests).
	Port int
	// RelayIP is the address put into XOR-RELAYED-ADDRESS. Guests only ever
	// use it as a peer address towards this server (relay↔relay), so it is the
	// box's guest-facing address (10.42.0.1 on the Pi, the advertised address
	// on a laptop). Required, IPv4.
	RelayIP netip.Addr
	// ClientNets are the source networks allowed to use the relay at all;
	// packets from anywhere else are dropped unanswered and counted.
	ClientNets []netip.Prefix
	// Users maps TURN user names to passwords (long-term credentials).
	Users map[string]string
	// Realm defaults to DefaultRealm.
	Realm string
	// MaxAllocationsPerClient caps live allocations per client IP address
	// (a guest: with the hotspot's source guard a guest can only send from
	// its own leased address); 0 means DefaultMaxAllocationsPerClient, a
	// negative value means no cap.
	MaxAllocationsPerClient int
	// MaxAllocations caps live allocations on the whole server; 0 means
	// DefaultMaxAllocations. Once three quarters are taken, only clients
	// holding fewer than 4 get more, so guests arriving late still get
	// relayed however many addresses one guest allocates from.
	MaxAllocations int
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// ListenIP is the address the listeners bind; the zero value means all
	// IPv4 addresses (0.0.0.0).
	ListenIP netip.Addr
	// Listeners is the number of UDP sockets sharing Port via SO_REUSEPORT;
	// 0 means one per CPU on Linux and one elsewhere (see defaultListeners).
	Listeners int
	// SocketBuffer is the SO_RCVBUF/SO_SNDBUF size asked for per listener;
	// 0 means DefaultSocketBuffer.
	SocketBuffer int
	// AllocationLifetime caps the lifetime of an allocation that is not
	// refreshed; 0 means pion's default (10 minutes).
	AllocationLifetime time.Duration
	// AirBudgetKbps is the relayed media rate the guests share (see
	// internal/air); 0 means no limit. SetAirBudget changes it later.
	AirBudgetKbps int
}

// Stats is a snapshot of the relay's counters.
type Stats struct {
	// Allocations is the number of live allocations.
	Allocations int
	// RelayedBytes counts payload bytes handed from one allocation to another.
	RelayedBytes uint64
	// RelayedPackets counts the datagrams behind RelayedBytes.
	RelayedPackets uint64
	// BytesPerSecond is the relayed byte rate over the last full second.
	BytesPerSecond float64
	// Refused is the sum of the Refused* counters below.
	Refused uint64
	// RefusedClientNet counts packets from sources outside ClientNets.
	RefusedClientNet uint64
	// RefusedAuth counts requests with an unknown user or a wrong password.
	RefusedAuth uint64
	// RefusedQuota counts allocations refused by the per-client cap.
	RefusedQuota uint64
	// RefusedPermission counts CreatePermission/ChannelBind peers that are
	// not relayed addresses of this server.
	RefusedPermission uint64
	// RefusedDeallocate counts Refresh requests with LIFETIME 0 dropped
	// because no allocation has that 5-tuple or their source IP kept
	// naming 5-tuples without one (a guest guessing another's port).
	RefusedDeallocate uint64
	// DroppedNoRoute counts datagrams an allocation sent to an address that
	// is not a live allocation of this server (they have nowhere to go).
	DroppedNoRoute uint64
	// DroppedQueueFull counts datagrams dropped because the receiving
	// allocation's queue was full (its client is not keeping up).
	DroppedQueueFull uint64
	// DroppedSendFailed counts datagrams the kernel refused to send on to
	// the receiving client.
	DroppedSendFailed uint64
	// DroppedPacing counts datagrams of guests over their air share that
	// waited too long to be sent (see AirStats).
	DroppedPacing uint64
	// Listeners is the number of UDP sockets sharing the port.
	Listeners int
	// RecvBuffer and SendBuffer are the socket buffer sizes the kernel
	// granted on the listeners (bytes of payload, i.e. half of what
	// getsockopt reports on Linux).
	RecvBuffer, SendBuffer int
}

// counters are the Server's monotonic counters, shared with the listeners
// and the relay table.
type counters struct {
	relayedBytes, relayedPackets                                   atomic.Uint64
	refusedClientNet, refusedAuth, refusedQuota, refusedPermission atomic.Uint64
	refusedDeallocate                                              atomic.Uint64
	droppedNoRoute, droppedQueueFull, droppedSendFailed            atomic.Uint64
	droppedPacing                                                  atomic.Uint64
}

// Server is a TURN relay. Create it with New, run it with Run.
type Server struct {
	cfg       Config
	log       *slog.Logger
	keys      map[string][]byte // user → long-term key MD5(user:realm:pass)
	table     *relayTable
	dealloc   deallocGuard
	count     *counters
	listeners []*guardConn
	addr      netip.AddrPort
	bufs      sockbuf.Granted
	started   atomic.Bool
	rate      atomic.Uint64 // relayed bytes in the last full second
}

// New validates cfg and binds the listeners, so a busy port is reported here
// rather than in Run. The sockets are released by Run when its context ends;
// a Server that is never run must be closed with Close.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.MaxAllocationsPerClient == 0 {
		cfg.MaxAllocationsPerClient = DefaultMaxAllocationsPerClient
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = DefaultMaxAllocations
	}
	if cfg.Listeners <= 0 {
		cfg.Listeners = defaultListeners()
	}
	if cfg.SocketBuffer <= 0 {
		cfg.SocketBuffer = DefaultSocketBuffer
	}
	if !cfg.ListenIP.IsValid() {
		cfg.ListenIP = netip.IPv4Unspecified()
	}
	switch {
	case cfg.Port < 0 || cfg.Port > 65535:
		return nil, fmt.Errorf("turnrelay: port %d out of range", cfg.Port)
	case !cfg.ListenIP.Unmap().Is4():
		return nil, fmt.Errorf("turnrelay: listen IP %v is not an IPv4 address", cfg.ListenIP)
	case !cfg.RelayIP.IsValid() || !cfg.RelayIP.Unmap().Is4():
		return nil, fmt.Errorf("turnrelay: relay IP %v is not an IPv4 address", cfg.RelayIP)
	case len(cfg.ClientNets) == 0:
		return nil, errors.New("turnrelay: no client networks configured; nobody could allocate")
	case len(cfg.Users) == 0:
		return nil, errors.New("turnrelay: no TURN users configured")
	}
	cfg.RelayIP = cfg.RelayIP.Unmap()
	nets := make([]netip.Prefix, 0, len(cfg.ClientNets))
	for _, p := range cfg.ClientNets {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.IsValid() {
			return nil, fmt.Errorf("turnrelay: invalid client network %v", p)
		}
		nets = append(nets, p.Masked())
	}
	cfg.ClientNets = nets

	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "turn"),
		keys:  make(map[string][]byte, len(cfg.Users)),
		count: &counters{},
	}
	for user, pass := range cfg.Users {
		if user == "" || pass == "" {
			return nil, errors.New("turnrelay: empty TURN user name or password")
		}
		s.keys[user] = turn.GenerateAuthKey(user, cfg.Realm, pass)
	}

	conns, bufs, err := listenShared(cfg.ListenIP, cfg.Port, cfg.Listeners, cfg.SocketBuffer)
	if err != nil {
		return nil, err
	}
	s.addr = conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	s.bufs = bufs
	s.table = newRelayTable(cfg.RelayIP, s.addr.Port(), cfg.MaxAllocationsPerClient, cfg.MaxAllocations, s.count)
	s.table.shaper = newShaper(s.count)
	s.table.shaper.setBudget(cfg.AirBudgetKbps)
	for _, c := range conns {
		s.listeners = append(s.listeners, newGuardConn(c, s))
	}
	return s, nil
}

// Addr is the address the listeners are bound to (with the real port when
// Config.Port was 0).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Close releases the listeners of a Server whose Run was never called.
func (s *Server) Close() error {
	if s.started.Load() {
		return errors.New("turnrelay: Close on a running server; cancel Run's context instead")
	}
	var errs []error
	for _, l := range s.listeners {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Run serves TURN until ctx is done, then closes the listeners and every
// allocation and returns. It returns an error only if the server could not
// start.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("turnrelay: Run called twice")
	}
	pcs := make([]turn.PacketConnConfig, 0, len(s.listeners))
	for _, l := range s.listeners {
		pcs = append(pcs, turn.PacketConnConfig{
			PacketConn:            l,
			RelayAddressGenerator: &relayGenerator{table: s.table, listener: l},
			PermissionHandler:     l.permitPeer,
		})
	}
	ts, err := turn.NewServer(turn.ServerConfig{
		PacketConnConfigs:  pcs,
		Realm:              s.cfg.Realm,
		AuthHandler:        s.authenticate,
		QuotaHandler:       s.underQuota,
		EventHandler:       s.events(),
		LoggerFactory:      pionLoggerFactory{log: s.log},
		AllocationLifetime: s.cfg.AllocationLifetime,
	})
	if err != nil {
		for _, l := range s.listeners {
			_ = l.Close()
		}
		return fmt.Errorf("turnrelay: start pion TURN server on %v: %w", s.addr, err)
	}
	s.log.Info("TURN relay listening", "addr", s.addr.String(), "relay_ip", s.cfg.RelayIP.String(),
		"listeners", len(s.listeners), "rcvbuf", s.bufs.Recv, "sndbuf", s.bufs.Send, "buffers", s.bufs.How,
		"client_nets", fmt.Sprint(s.cfg.ClientNets), "max_allocations_per_client", s.cfg.MaxAllocationsPerClient)
	if s.bufs.Short(s.cfg.SocketBuffer) {
		s.log.Warn("TURN socket buffers smaller than asked", "asked", s.cfg.SocketBuffer,
			"rcvbuf", s.bufs.Recv, "sndbuf", s.bufs.Send, "hint", sockbuf.Hint())
	}

	tick := time.NewTicker(time.Second)
	shares := time.NewTicker(rebalanceEvery)
	last := s.count.relayedBytes.Load()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-tick.C:
			now := s.count.relayedBytes.Load()
			s.rate.Store(now - last)
			last = now
		case <-shares.C:
			s.table.shaper.rebalance()
		}
	}
	tick.Stop()
	shares.Stop()
	defer s.table.shaper.close()
	err = ts.Close()
	// pion closes its allocations when each read loop ends; closing the relay
	// table as well makes sure no relay goroutine outlives Run.
	s.table.closeAll()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Warn("closing TURN listeners", "err", err)
	}
	s.log.Info("TURN relay stopped", "relayed_bytes", s.count.relayedBytes.Load())
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := s.count
	st := Stats{
		Allocations:       s.table.len(),
		RelayedBytes:      c.relayedBytes.Load(),
		RelayedPackets:    c.relayedPackets.Load(),
		BytesPerSecond:    float64(s.rate.Load()),
		RefusedClientNet:  c.refusedClientNet.Load(),
		RefusedAuth:       c.refusedAuth.Load(),
		RefusedQuota:      c.refusedQuota.Load(),
		RefusedPermission: c.refusedPermission.Load(),
		RefusedDeallocate: c.refusedDeallocate.Load(),
		DroppedNoRoute:    c.droppedNoRoute.Load(),
		DroppedQueueFull:  c.droppedQueueFull.Load(),
		DroppedSendFailed: c.droppedSendFailed.Load(),
		DroppedPacing:     c.droppedPacing.Load(),
		Listeners:         len(s.listeners),
		RecvBuffer:        s.bufs.Recv,
		SendBuffer:        s.bufs.Send,
	}
	st.Refused = st.RefusedClientNet + st.RefusedAuth + st.RefusedQuota + st.RefusedPermission + st.RefusedDeallocate
	return st
}

// SetAirBudget changes the air budget (kb/s; 0 = no limit), for example
// when the hotspot reports another channel width.
func (s *Server) SetAirBudget(kbps int) { s.table.shaper.setBudget(kbps) }

// AirStats is the budget, the total relayed rate and each guest's rate
// and share.
func (s *Server) AirStats() AirStats { return s.table.shaper.stats() }

// Status is the relay's part of the hub's status document.
func (s *Server) Status() status.TURN {
	st := s.Stats()
	return status.TURN{
		Port:            int(s.addr.Port()),
		Allocations:     st.Allocations,
		RelayedBytes:    st.RelayedBytes,
		BytesPerSecond:  st.BytesPerSecond,
		RefusedRequests: st.Refused,
	}
}

// WriteMetrics writes the relay's metrics (prefix kibitz_turn_).
func (s *Server) WriteMetrics(w *metrics.Writer) {
	st := s.Stats()
	w.Gauge("kibitz_turn_allocations", "Live TURN allocations.", float64(st.Allocations), nil)
	w.Counter("kibitz_turn_relayed_bytes_total", "Payload bytes relayed between allocations.", float64(st.RelayedBytes), nil)
	w.Counter("kibitz_turn_relayed_packets_total", "Datagrams relayed between allocations.", float64(st.RelayedPackets), nil)
	const refusedHelp = "TURN requests or packets refused, by reason."
	w.Counter("kibitz_turn_refused_total", refusedHelp, float64(st.RefusedClientNet), metrics.Labels{"reason": "client_net"})
	w.Counter("kibitz_turn_refused_total", refusedHelp, float64(st.RefusedAuth), metrics.Labels{"reason": "auth"})
	w.Counter("kibitz_turn_refused_total", refusedHelp, float64(st.RefusedQuota), metrics.Labels{"reason": "quota"})
	w.Counter("kibitz_turn_refused_total", refusedHelp, float64(st.RefusedPermission), metrics.Labels{"reason": "permission"})
	w.Counter("kibitz_turn_refused_total", refusedHelp, float64(st.RefusedDeallocate), metrics.Labels{"reason": "deallocate"})
	const dropHelp = "Relayed datagrams dropped, by reason."
	w.Counter("kibitz_turn_dropped_total", dropHelp, float64(st.DroppedNoRoute), metrics.Labels{"reason": "no_route"})
	w.Counter("kibitz_turn_dropped_total", dropHelp, float64(st.DroppedQueueFull), metrics.Labels{"reason": "queue_full"})
	w.Counter("kibitz_turn_dropped_total", dropHelp, float64(st.DroppedSendFailed), metrics.Labels{"reason": "send_failed"})
	w.Counter("kibitz_turn_dropped_total", dropHelp, float64(st.DroppedPacing), metrics.Labels{"reason": "pacing"})
	as := s.AirStats()
	w.Gauge("kibitz_air_budget_bits_per_second", "The relayed media rate the guests share (0: no limit).", as.BudgetBps, nil)
	w.Gauge("kibitz_air_relayed_bits_per_second", "The relayed media rate over the last second.", as.TotalBps, nil)
	for i, g := range as.Guests {
		if i == 32 { // the busiest guests; the total covers the rest
			break
		}
		l := metrics.Labels{"guest": g.Addr.String()}
		w.Gauge("kibitz_air_guest_bits_per_second", "A guest's relayed rate over the last second.", g.Bps, l)
		w.Gauge("kibitz_air_guest_share_bits_per_second", "The rate the relay holds a guest to (0: no limit).", g.ShareBps, l)
		w.Counter("kibitz_air_guest_pacing_dropped_total", "A guest's datagrams dropped for being over its share.", float64(g.Dropped), l)
	}
	w.Gauge("kibitz_turn_listeners", "UDP sockets sharing the TURN port.", float64(st.Listeners), nil)
	w.Gauge("kibitz_turn_socket_buffer_bytes", "Socket buffer granted per TURN listener.", float64(st.RecvBuffer), metrics.Labels{"dir": "rcv"})
	w.Gauge("kibitz_turn_socket_buffer_bytes", "Socket buffer granted per TURN listener.", float64(st.SendBuffer), metrics.Labels{"dir": "snd"})
}

// authenticate is pion's AuthHandler: long-term credentials from Config.Users.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	key, ok := s.keys[ra.Username]
	if !ok || ra.Realm != s.cfg.Realm {
		s.count.refusedAuth.Add(1)
		s.log.Debug("TURN request with unknown user or realm", "client", addrString(ra.SrcAddr))
		return "", nil, false
	}
	return ra.Username, key, true
}

// underQuota is pion's QuotaHandler; the relay table enforces the same cap
// again under its lock, which closes the race between two listeners.
func (s *Server) underQuota(_, _ string, src net.Addr) bool {
	ap, ok := addrPortOf(src)
	if !ok {
		return false
	}
	if !s.table.underCap(ap.Addr()) {
		s.count.refusedQuota.Add(1)
		s.log.Debug("TURN allocation refused: per-client cap", "client", ap.Addr().String(),
			"cap", s.cfg.MaxAllocationsPerClient)
		return false
	}
	return true
}

func (s *Server) events() turn.EventHandler {
	return turn.EventHandler{
		OnAuth: func(src, _ net.Addr, _, _, _ string, method string, verdict bool) {
			if !verdict {
				s.count.refusedAuth.Add(1)
				s.log.Debug("TURN request with a wrong password", "client", addrString(src), "method", method)
			}
		},
		OnAllocationCreated: func(src, _ net.Addr, _, _, _ string, relay net.Addr, _ int) {
			s.log.Debug("TURN allocation", "client", addrString(src), "relay", addrString(relay))
		},
		OnAllocationDeleted: func(src, _ net.Addr, _, _, _ string) {
			s.log.Debug("TURN allocation ended", "client", addrString(src))
		},
		OnChannelCreated: func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, num uint16) {
			if rc, pa, ok := s.channelEnds(relay, peer); ok {
				rc.setChannel(pa, num)
			}
		},
		OnChannelDeleted: func(_, _ net.Addr, _, _, _ string, relay, peer net.Addr, num uint16) {
			if rc, pa, ok := s.channelEnds(relay, peer); ok {
				rc.deleteChannel(pa, num)
			}
		},
	}
}

// channelEnds resolves a channel event to the allocation's relay conn and the
// peer address.
func (s *Server) channelEnds(relay, peer net.Addr) (*relayConn, netip.AddrPort, bool) {
	ra, ok1 := addrPortOf(relay)
	pa, ok2 := addrPortOf(peer)
	if !ok1 || !ok2 {
		return nil, netip.AddrPort{}, false
	}
	rc := s.table.lookup(ra)
	return rc, pa, rc != nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// addrPortOf converts a UDP net.Addr to an unmapped netip.AddrPort.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua == nil {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.Addr().IsValid()
}
