// Package dhcpd implements the hotspot's DHCPv4 server: one subnet on one
// interface, sticky addresses per client, leases persisted atomically, and
// option 114 (RFC 8910 captive-portal URI) so phones find the box's page.
package dhcpd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/ratelog"
	"github.com/kibitzbox/kibitzbox/internal/statefile"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// Config configures a Server.
type Config struct {
	// Interface is the only interface the server listens on (the AP).
	Interface string
	// ServerIP is the box's address on Interface; it is also the router
	// and the DNS server handed to clients.
	ServerIP netip.Addr
	// Prefix is the subnet of Interface, e.g. 10.42.0.0/24.
	Prefix netip.Prefix
	// PoolStart and PoolEnd bound the addresses handed out (inclusive).
	PoolStart, PoolEnd netip.Addr
	// LeaseTime is the lease duration; 2 h if zero.
	LeaseTime time.Duration
	// CaptivePortalURL is sent as option 114 (RFC 8910); empty sends none.
	CaptivePortalURL string
	// LeaseFile persists the leases (e.g. <state>/leases.json); empty keeps
	// them in memory only.
	LeaseFile string
	// Associated, if set, says whether a MAC is a station associated to
	// our AP; packets from other MACs get no answer and no binding, so
	// nobody outside the Wi-Fi (and no made-up MAC) can take addresses.
	// Nil serves every MAC (tests, a wired lab setup).
	Associated func(mac net.HardwareAddr) bool
	// OnLeasesChange, if set, gets the bound, unexpired leases when Run
	// starts and after every binding change, before the client hears its
	// ACK (the hotspot's source guard lets each MAC use only its lease).
	// It runs on the server's goroutine.
	OnLeasesChange func([]status.Lease)
	// Logger receives the server's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// DefaultLeaseTime is used when Config.LeaseTime is zero.
const DefaultLeaseTime = 2 * time.Hour

// maxPoolSize bounds the pool so that allocation scans stay cheap.
const maxPoolSize = 1 << 16

// Server is a DHCPv4 server. Create it with New and start it with Run.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limited *ratelog.Logger
	now     func() time.Time

	mask net.IPMask
	opts []dhcpv4.Option // options every OFFER/ACK carries

	mu    sync.Mutex
	table *leaseTable
	stats Stats

	saveMu sync.Mutex // serialises writes of the lease file
	dirty  bool       // a binding changed but the lease file write failed (under mu)
}

// Stats counts what the server did. Drops are keyed by reason.
type Stats struct {
	Discovers, Requests, Releases, Declines, Informs uint64
	Offers, Acks, Naks                               uint64
	// LeaseFileWrites counts writes of the lease file: one per binding
	// change (new address, release, decline), none for a renewal.
	LeaseFileWrites uint64
	Drops           map[string]uint64
}

// New checks cfg and loads the lease file. A corrupt lease file is moved
// aside and logged; the server then starts with no leases.
func New(cfg Config) (*Server, error) { return newServer(cfg, time.Now) }

// newServer is New with a clock; tests pass their own.
func newServer(cfg Config, now func() time.Time) (*Server, error) {
	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		now:   now,
		mask:  net.CIDRMask(cfg.Prefix.Bits(), 32),
		table: newLeaseTable(cfg.ServerIP, cfg.PoolStart, cfg.PoolEnd, cfg.LeaseTime),
		stats: Stats{Drops: map[string]uint64{}},
	}
	s.limited = ratelog.New(s.log, 10*time.Second, func() time.Time { return s.now() })
	sip := net.IP(cfg.ServerIP.AsSlice())
	s.opts = []dhcpv4.Option{
		dhcpv4.OptServerIdentifier(sip),
		dhcpv4.OptSubnetMask(s.mask),
		dhcpv4.OptRouter(sip),
		dhcpv4.OptDNS(sip),
	}
	if cfg.CaptivePortalURL != "" {
		s.opts = append(s.opts, dhcpv4.OptGeneric(optionCaptivePortal, []byte(cfg.CaptivePortalURL)))
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// optionCaptivePortal is option 114; the library still calls it OptionURL,
// its RFC 3679 name, which RFC 8910 reassigned.
var optionCaptivePortal = dhcpv4.GenericOptionCode(114)

func (c *Config) check() error {
	switch {
	case c.Interface == "":
		return errors.New("dhcpd: no interface")
	case !c.ServerIP.Is4() || !c.Prefix.IsValid() || !c.Prefix.Addr().Is4():
		return fmt.Errorf("dhcpd: server %v and prefix %v must be IPv4", c.ServerIP, c.Prefix)
	case !c.Prefix.Contains(c.ServerIP):
		return fmt.Errorf("dhcpd: server %v outside %v", c.ServerIP, c.Prefix)
	case !c.Prefix.Contains(c.PoolStart) || !c.Prefix.Contains(c.PoolEnd) || c.PoolEnd.Less(c.PoolStart):
		return fmt.Errorf("dhcpd: pool %v-%v not an ordered range inside %v", c.PoolStart, c.PoolEnd, c.Prefix)
	case poolSize(c.PoolStart, c.PoolEnd) > maxPoolSize:
		return fmt.Errorf("dhcpd: pool %v-%v larger than %d addresses", c.PoolStart, c.PoolEnd, maxPoolSize)
	case c.LeaseTime < time.Minute || c.LeaseTime > 365*24*time.Hour:
		return fmt.Errorf("dhcpd: lease time %v out of range 1m..1y", c.LeaseTime)
	case len(c.CaptivePortalURL) > 255:
		return fmt.Errorf("dhcpd: captive portal URL is %d bytes, option 114 holds 255", len(c.CaptivePortalURL))
	}
	return nil
}

func poolSize(start, end netip.Addr) uint64 {
	a, b := start.As4(), end.As4()
	u := func(x [4]byte) uint64 { return uint64(x[0])<<24 | uint64(x[1])<<16 | uint64(x[2])<<8 | uint64(x[3]) }
	return u(b) - u(a) + 1
}

// load restores the lease file, if there is one.
func (s *Server) load() error {
	if s.cfg.LeaseFile == "" {
		return nil
	}
	var f leaseFile
	err := statefile.ReadJSON(s.cfg.LeaseFile, &f, f.validate)
	var corrupt *statefile.CorruptError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.As(err, &corrupt):
		s.log.Error("lease file corrupt; starting without leases", "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("dhcpd: load leases: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	skipped := s.table.restore(f, now)
	n := len(s.table.byIP)
	s.mu.Unlock()
	for _, why := range skipped {
		s.log.Warn("lease file entry skipped", "file", s.cfg.LeaseFile, "why", why)
	}
	s.log.Info("leases restored", "file", s.cfg.LeaseFile, "count", n)
	return nil
}

// save writes the lease file (if configured). It runs when a binding
// changed, never for a renewal: the file keeps each lease's time left as of
// its last change, which after a reboot errs towards keeping an address
// reserved longer, never towards giving it to a second phone.
func (s *Server) save() {
	if s.cfg.LeaseFile == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	f := s.table.snapshot(s.now())
	s.mu.Unlock()
	err := statefile.WriteJSON(s.cfg.LeaseFile, f, 0o600)
	s.mu.Lock()
	s.dirty = err != nil
	if err == nil {
		s.stats.LeaseFileWrites++
	}
	s.mu.Unlock()
	if err != nil {
		s.limited.Log(slog.LevelWarn, "save_failed", "dhcpd: cannot save leases", "err", err)
	}
}

func (s *Server) leasesChanged() {
	if s.cfg.OnLeasesChange != nil {
		s.cfg.OnLeasesChange(s.Leases())
	}
}

// saveIfDirty retries a failed write.
func (s *Server) saveIfDirty() {
	s.mu.Lock()
	dirty := s.dirty
	s.mu.Unlock()
	if dirty {
		s.save()
	}
}

// sweepInterval is how often Run drops stale quarantines and retries a
// failed lease file write.
const sweepInterval = 5 * time.Minute

// Run serves DHCP on the configured interface until ctx ends. Packets are
// handled one at a time, which bounds the work a flood can cause.
func (s *Server) Run(ctx context.Context) error {
	conn, err := server4.NewIPv4UDPConn(s.cfg.Interface, &net.UDPAddr{Port: dhcpv4.ServerPort})
	if err != nil {
		return fmt.Errorf("dhcpd: listen on %s port %d: %w", s.cfg.Interface, dhcpv4.ServerPort, err)
	}
	return s.serve(ctx, conn)
}

func (s *Server) serve(ctx context.Context, conn net.PacketConn) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Deferred in reverse: save, then cancel, then wait for the helpers.
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		conn.Close()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(sweepInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.mu.Lock()
				s.table.sweep(s.now())
				s.mu.Unlock()
				s.saveIfDirty()
				s.leasesChanged() // expired leases leave the guard too
			}
		}
	}()
	defer s.saveIfDirty()
	s.leasesChanged()
	s.log.Info("dhcpd serving", "interface", s.cfg.Interface, "server", s.cfg.ServerIP,
		"pool", s.cfg.PoolStart.String()+"-"+s.cfg.PoolEnd.String(), "lease", s.cfg.LeaseTime)

	buf := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dhcpd: read on %s: %w", s.cfg.Interface, err)
		}
		reply, dst, changed := s.handlePacket(buf[:n], peer)
		if changed {
			// Persist before the ACK leaves: after a power cut the box
			// must not forget an address a phone was told it owns.
			s.save()
			s.leasesChanged()
		}
		if reply != nil {
			if _, err := conn.WriteTo(reply.ToBytes(), dst); err != nil {
				s.limited.Log(slog.LevelWarn, "send_failed", "dhcpd: cannot send reply", "to", dst, "err", err)
			}
		}
	}
}

// handlePacket parses and answers one packet. It returns the reply (nil for
// none), where to send it, and whether the persisted leases changed.
func (s *Server) handlePacket(pkt []byte, peer net.Addr) (*dhcpv4.DHCPv4, *net.UDPAddr, bool) {
	req, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		s.drop("malformed", "dhcpd: malformed packet dropped", "from", peer, "len", len(pkt), "err", err)
		return nil, nil, false
	}
	reply, changed := s.handle(req)
	if reply == nil {
		return nil, nil, changed
	}
	return reply, replyDestination(req, reply), changed
}

// replyDestination follows RFC 2131 §4.1 for a client on our link: unicast
// to ciaddr when the client has an address (renewing, INFORM), else
// broadcast. We broadcast instead of unicasting to yiaddr, which would need
// an ARP entry for an address the client does not have yet; every client
// tested accepts it.
func replyDestination(req, reply *dhcpv4.DHCPv4) *net.UDPAddr {
	ciaddr := req.ClientIPAddr.To4()
	if reply.MessageType() != dhcpv4.MessageTypeNak && ciaddr != nil && !ciaddr.Equal(net.IPv4zero) {
		return &net.UDPAddr{IP: ciaddr, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
}

func (s *Server) drop(reason, msg string, args ...any) {
	s.mu.Lock()
	s.stats.Drops[reason]++
	s.mu.Unlock()
	s.limited.Log(slog.LevelWarn, reason, msg, args...)
}

func (s *Server) count(field *uint64) {
	s.mu.Lock()
	*field++
	s.mu.Unlock()
}

// clientKey identifies a client by its MAC (chaddr), not by its client
// identifier (option 61): one binding per MAC, so a station that sends
// made-up client identifiers still holds at most one address.
func clientKey(req *dhcpv4.DHCPv4) string { return macKey(req.ClientHWAddr) }

func macKey(mac net.HardwareAddr) string { return "mac:" + mac.String() }

func addrFrom(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// handle runs the state machine of RFC 2131 §4.3 for one request.
func (s *Server) handle(req *dhcpv4.DHCPv4) (reply *dhcpv4.DHCPv4, changed bool) {
	switch {
	case req.OpCode != dhcpv4.OpcodeBootRequest:
		s.drop("not_request", "dhcpd: not a BOOTREQUEST", "op", req.OpCode)
		return nil, false
	case len(req.ClientHWAddr) != 6:
		s.drop("bad_hwaddr", "dhcpd: not an Ethernet client", "hwaddr", req.ClientHWAddr)
		return nil, false
	case addrFrom(req.GatewayIPAddr).IsValid():
		// Relayed requests come from another subnet; we serve only our link.
		s.drop("relayed", "dhcpd: relayed request ignored", "giaddr", req.GatewayIPAddr)
		return nil, false
	}
	client := clientKey(req)
	mac := req.ClientHWAddr
	if s.cfg.Associated != nil && !s.cfg.Associated(mac) {
		s.drop("not_associated", "dhcpd: request from a MAC not associated to the AP", "mac", mac.String(), "type", req.MessageType())
		return nil, false
	}
	hostname := cleanHostname(req.HostName())
	now := s.now()
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		s.count(&s.stats.Discovers)
		s.mu.Lock()
		ip, err := s.table.offer(client, mac, hostname, addrFrom(req.RequestedIPAddress()), now)
		s.mu.Unlock()
		if err != nil {
			s.drop("pool_full", "dhcpd: no address to offer", "mac", mac.String(), "err", err)
			return nil, false
		}
		s.count(&s.stats.Offers)
		return s.reply(req, dhcpv4.MessageTypeOffer, ip), false

	case dhcpv4.MessageTypeRequest:
		s.count(&s.stats.Requests)
		if sid := addrFrom(req.ServerIdentifier()); sid.IsValid() && sid != s.cfg.ServerIP {
			// The client chose another server's offer.
			s.mu.Lock()
			s.table.withdrawOffer(client, now)
			s.mu.Unlock()
			s.drop("other_server", "dhcpd: request for another server", "mac", mac.String(), "server", sid)
			return nil, false
		}
		ip := addrFrom(req.RequestedIPAddress())
		if !ip.IsValid() {
			ip = addrFrom(req.ClientIPAddr) // renewing or rebinding
		}
		if !ip.IsValid() {
			s.drop("no_address", "dhcpd: request names no address", "mac", mac.String())
			return nil, false
		}
		s.mu.Lock()
		ok, known, renewed := s.table.bind(client, mac, hostname, ip, now)
		s.mu.Unlock()
		if !ok && !known && !addrFrom(req.ServerIdentifier()).IsValid() && !addrFrom(req.ClientIPAddr).IsValid() {
			// INIT-REBOOT from a client we have no record of: RFC 2131
			// §4.3.2 says stay silent; it falls back to DISCOVER.
			s.drop("no_offer", "dhcpd: request from a client without an offer or lease", "mac", mac.String(), "ip", ip)
			return nil, false
		}
		if !ok {
			s.count(&s.stats.Naks)
			s.limited.Log(slog.LevelInfo, "nak", "dhcpd NAK: address not offered to or leased by this client", "mac", mac.String(), "ip", ip)
			return s.nak(req), false
		}
		s.count(&s.stats.Acks)
		if renewed {
			s.log.Debug("dhcpd renew", "mac", mac.String(), "ip", ip)
		} else {
			s.log.Info("dhcpd lease", "mac", mac.String(), "ip", ip, "hostname", hostname)
		}
		return s.reply(req, dhcpv4.MessageTypeAck, ip), !renewed

	case dhcpv4.MessageTypeRelease:
		s.count(&s.stats.Releases)
		s.mu.Lock()
		changed := s.table.release(client, addrFrom(req.ClientIPAddr), now)
		s.mu.Unlock()
		if changed {
			s.log.Info("dhcpd release", "mac", mac.String(), "ip", req.ClientIPAddr)
		}
		return nil, changed

	case dhcpv4.MessageTypeDecline:
		s.count(&s.stats.Declines)
		ip := addrFrom(req.RequestedIPAddress())
		s.mu.Lock()
		changed := s.table.decline(client, ip, now)
		s.mu.Unlock()
		if changed {
			s.log.Warn("dhcpd decline: address in use by someone else; quarantined", "mac", mac.String(), "ip", ip)
		}
		return nil, changed

	case dhcpv4.MessageTypeInform:
		s.count(&s.stats.Informs)
		if !addrFrom(req.ClientIPAddr).IsValid() {
			s.drop("no_address", "dhcpd: INFORM without ciaddr", "mac", mac.String())
			return nil, false
		}
		s.count(&s.stats.Acks)
		return s.reply(req, dhcpv4.MessageTypeAck, netip.Addr{}), false

	case dhcpv4.MessageTypeNone:
		s.drop("no_message_type", "dhcpd: BOOTP request without DHCP message type", "mac", mac.String())
		return nil, false
	default:
		s.drop("unexpected_type", "dhcpd: unexpected message type", "mac", mac.String(), "type", req.MessageType())
		return nil, false
	}
}

// reply builds an OFFER or ACK for ip; an invalid ip means INFORM (no
// address, no lease time).
func (s *Server) reply(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, ip netip.Addr) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithServerIP(net.IP(s.cfg.ServerIP.AsSlice()))}
	for _, o := range s.opts {
		mods = append(mods, dhcpv4.WithOption(o))
	}
	if ip.IsValid() {
		lt := s.cfg.LeaseTime
		mods = append(mods,
			dhcpv4.WithYourIP(net.IP(ip.AsSlice())),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(lt)),
			dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(lt/2)),
			dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(lt*7/8)),
		)
	}
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		// Only fails when the random transaction ID cannot be read, which
		// a reply does not need; keep the daemon alive regardless.
		s.drop("build_failed", "dhcpd: cannot build reply", "err", err)
		return nil
	}
	return r
}

func (s *Server) nak(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	r, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(s.cfg.ServerIP.AsSlice()))),
		// RFC 2131 §4.3.2: NAKs are broadcast, so set the broadcast bit for relays and clients alike.
		dhcpv4.WithBroadcast(true),
	)
	if err != nil {
		s.drop("build_failed", "dhcpd: cannot build NAK", "err", err)
		return nil
	}
	return r
}

// Leases returns the bound, unexpired leases ordered by address.
func (s *Server) Leases() []status.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.table.leases(s.now())
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Drops = make(map[string]uint64, len(s.stats.Drops))
	for k, v := range s.stats.Drops {
		st.Drops[k] = v
	}
	return st
}

// WriteMetrics writes the counters and the number of leases in the
// Prometheus text format.
func (s *Server) WriteMetrics(w *metrics.Writer) {
	st := s.Stats()
	leases := len(s.Leases())
	msgs := []struct {
		typ string
		n   uint64
	}{{"discover", st.Discovers}, {"request", st.Requests}, {"release", st.Releases}, {"decline", st.Declines}, {"inform", st.Informs}}
	for _, m := range msgs {
		w.Counter("kibitz_dhcp_received_total", "DHCP messages received, by type.", float64(m.n), metrics.Labels{"type": m.typ})
	}
	sent := []struct {
		typ string
		n   uint64
	}{{"offer", st.Offers}, {"ack", st.Acks}, {"nak", st.Naks}}
	for _, m := range sent {
		w.Counter("kibitz_dhcp_sent_total", "DHCP replies sent, by type.", float64(m.n), metrics.Labels{"type": m.typ})
	}
	reasons := make([]string, 0, len(st.Drops))
	for r := range st.Drops {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		w.Counter("kibitz_dhcp_dropped_total", "DHCP packets dropped, by reason.", float64(st.Drops[r]), metrics.Labels{"reason": r})
	}
	w.Counter("kibitz_dhcp_lease_file_writes_total", "Writes of the lease file (binding changes, not renewals).", float64(st.LeaseFileWrites), nil)
	w.Gauge("kibitz_dhcp_leases", "Bound, unexpired DHCP leases.", float64(leases), nil)
	w.Gauge("kibitz_dhcp_pool_size", "Addresses in the DHCP pool.", float64(poolSize(s.cfg.PoolStart, s.cfg.PoolEnd)), nil)
}
