// Package dnsd implements the hotspot's captive DNS server: every A query
// is answered with the box's address, so that phones' connectivity probes
// and typed names all land on the box.
package dnsd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/ratelog"
)

// Config configures a Server.
type Config struct {
	// Addr is the UDP and TCP address to serve, e.g. "10.42.0.1:53". The
	// address need not exist yet (IP_FREEBIND): the server works once the
	// interface comes up.
	Addr string
	// Answer is the IPv4 address every A query gets.
	Answer netip.Addr
	// TTL of the answers; 10 s if zero. Short, so that phones ask again
	// once they have left the hotspot.
	TTL time.Duration
	// Logger receives the server's logs; slog.Default() if nil.
	Logger *slog.Logger

	// PacketConn and Listener, if set, are served instead of listening on
	// Addr (tests use them for ephemeral ports).
	PacketConn net.PacketConn
	Listener   net.Listener
}

// DefaultTTL is used when Config.TTL is zero.
const DefaultTTL = 10 * time.Second

// maxTCPConns bounds concurrent TCP clients; phones use UDP.
const maxTCPConns = 64

// Server is the captive DNS server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limited *ratelog.Logger
	ttl     uint32

	answered, empty, nxdomain, refused, formerr, notimp, invalid atomic.Uint64
}

// Stats counts responses by kind.
type Stats struct {
	// Answered got an A record; Empty got NOERROR without answers (AAAA,
	// HTTPS and every other type).
	Answered, Empty uint64
	// NXDomain were the names that signal "no DoH, no Private Relay here".
	NXDomain uint64
	// Refused were *.local names or non-IN classes.
	Refused uint64
	// FormErr and NotImp were malformed or unsupported requests;
	// Invalid could not be parsed at all and got no reply.
	FormErr, NotImp, Invalid uint64
}

// New checks cfg.
func New(cfg Config) (*Server, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !cfg.Answer.Is4() {
		return nil, fmt.Errorf("dnsd: answer %v is not an IPv4 address", cfg.Answer)
	}
	if cfg.TTL < time.Second || cfg.TTL > time.Hour {
		return nil, fmt.Errorf("dnsd: TTL %v out of range 1s..1h", cfg.TTL)
	}
	if cfg.PacketConn == nil || cfg.Listener == nil {
		if _, err := netip.ParseAddrPort(cfg.Addr); err != nil {
			return nil, fmt.Errorf("dnsd: listen address %q: %w", cfg.Addr, err)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ttl: uint32(cfg.TTL / time.Second)}
	s.limited = ratelog.New(s.log, 10*time.Second, time.Now)
	return s, nil
}

// freebind lets the sockets bind cfg.Addr before the AP interface has it.
func freebind(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// Run serves UDP and TCP until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	lc := net.ListenConfig{Control: freebind}
	pc, ln := s.cfg.PacketConn, s.cfg.Listener
	var err error
	if pc == nil {
		if pc, err = lc.ListenPacket(ctx, "udp4", s.cfg.Addr); err != nil {
			return fmt.Errorf("dnsd: listen udp %s: %w", s.cfg.Addr, err)
		}
	}
	if ln == nil {
		if ln, err = lc.Listen(ctx, "tcp4", s.cfg.Addr); err != nil {
			pc.Close()
			return fmt.Errorf("dnsd: listen tcp %s: %w", s.cfg.Addr, err)
		}
	}
	ln = netutil.LimitListener(ln, maxTCPConns)

	accept := func(dh dns.Header) dns.MsgAcceptAction {
		a := dns.DefaultMsgAcceptFunc(dh)
		switch a {
		case dns.MsgReject:
			s.formerr.Add(1)
		case dns.MsgRejectNotImplemented:
			s.notimp.Add(1)
		case dns.MsgIgnore:
			s.invalid.Add(1)
		}
		return a
	}
	invalid := func(m []byte, err error) {
		s.invalid.Add(1)
		s.limited.Log(slog.LevelWarn, "unparsable", "dnsd: unparsable query", "len", len(m), "err", err)
	}
	handler := dns.HandlerFunc(s.serveDNS)
	servers := []*dns.Server{
		{PacketConn: pc, Handler: handler, MsgAcceptFunc: accept, MsgInvalidFunc: invalid},
		{Listener: ln, Handler: handler, MsgAcceptFunc: accept, MsgInvalidFunc: invalid,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			IdleTimeout: func() time.Duration { return 8 * time.Second }},
	}
	s.log.Info("dnsd serving", "udp", pc.LocalAddr(), "tcp", ln.Addr(), "answer", s.cfg.Answer, "ttl", s.cfg.TTL)

	errs := make(chan error, len(servers))
	started := make(chan struct{}, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- srv.ActivateAndServe()
		}()
	}
	var runErr error
	for n := 0; n < len(servers) && runErr == nil; {
		select {
		case <-started:
			n++
		case err := <-errs:
			runErr = fmt.Errorf("dnsd: serve %s: %w", s.cfg.Addr, err)
		}
	}
	if runErr == nil {
		select {
		case <-ctx.Done():
		case err := <-errs:
			runErr = fmt.Errorf("dnsd: serve %s: %w", s.cfg.Addr, err)
		}
	}
	for _, srv := range servers {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := srv.ShutdownContext(shutdownCtx); err != nil {
			s.log.Debug("dnsd shutdown", "err", err)
		}
		cancel()
	}
	// A server that failed or had not started yet ignores ShutdownContext;
	// closing its socket ends it.
	pc.Close()
	ln.Close()
	wg.Wait()
	return runErr
}

// isLocal reports whether name is in .local, which belongs to mDNS
// (RFC 6762): answering it would break printer and Chromecast discovery.
func isLocal(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return name == "local" || strings.HasSuffix(name, ".local")
}

// isSignalName reports the names that get NXDOMAIN: they are the
// documented ways to tell clients that this network has no encrypted DNS,
// relay or proxy to offer, so that they use our DNS and connect directly
// instead of trying services that cannot work offline.
func isSignalName(name string) bool {
	name = strings.ToLower(name)
	switch name {
	case "use-application-dns.net.": // Firefox disables DNS-over-HTTPS
		return true
	case "mask.icloud.com.", "mask-h2.icloud.com.": // iOS/macOS turn iCloud Private Relay off, and say so
		return true
	}
	// Proxy auto-discovery (wpad) and Windows' IPv6 tunnel router (isatap):
	// an answer would point them at the hub's port 80, which serves no
	// proxy configuration.
	first, _, _ := strings.Cut(name, ".")
	return first == "wpad" || first == "isatap"
}

// Windows' NCSI resolves this name only after its HTTP probe got the
// expected body, i.e. after the hub released the client; the documented
// answer then completes the check instead of leaving Windows half-connected.
const ncsiDNSName = "dns.msftncsi.com."

// Respond builds the reply to req. It is separate from the transport so
// that it can be tested directly.
func (s *Server) Respond(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	// Phones' stub resolvers expect a recursive resolver on the DHCP DNS
	// address; we pretend to be one for the whole namespace.
	m.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		if opt.Version() != 0 {
			m.SetRcode(req, dns.RcodeBadVers)
			m.SetEdns0(1232, false)
			s.formerr.Add(1)
			return m
		}
		m.SetEdns0(1232, false)
	}
	if req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		s.notimp.Add(1)
		return m
	}
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		s.formerr.Add(1)
		return m
	}
	q := req.Question[0]
	if (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) || isLocal(q.Name) {
		m.SetRcode(req, dns.RcodeRefused)
		s.refused.Add(1)
		return m
	}
	if isSignalName(q.Name) {
		m.SetRcode(req, dns.RcodeNameError)
		s.nxdomain.Add(1)
		return m
	}
	switch q.Qtype {
	case dns.TypeA, dns.TypeANY:
		answer := net.IP(s.cfg.Answer.AsSlice())
		if strings.EqualFold(q.Name, ncsiDNSName) {
			answer = net.IPv4(131, 107, 255, 255).To4()
		}
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: s.ttl},
			A:   answer,
		})
		s.answered.Add(1)
	default:
		// AAAA empty keeps phones on IPv4 to the box; HTTPS/SVCB empty
		// stops browsers from expecting ECH or HTTP/3 there. NOERROR, not
		// NXDOMAIN, which makes some clients give up on the name.
		s.empty.Add(1)
	}
	return m
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := s.Respond(req)
	if err := w.WriteMsg(m); err != nil {
		s.limited.Log(slog.LevelWarn, "write_failed", "dnsd: cannot send reply", "to", w.RemoteAddr(), "err", err)
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Answered: s.answered.Load(), Empty: s.empty.Load(), NXDomain: s.nxdomain.Load(), Refused: s.refused.Load(),
		FormErr: s.formerr.Load(), NotImp: s.notimp.Load(), Invalid: s.invalid.Load(),
	}
}

// WriteMetrics writes the counters in the Prometheus text format.
func (s *Server) WriteMetrics(w *metrics.Writer) {
	st := s.Stats()
	for _, r := range []struct {
		kind string
		n    uint64
	}{{"answer", st.Answered}, {"empty", st.Empty}, {"nxdomain", st.NXDomain}, {"refused", st.Refused}, {"formerr", st.FormErr}, {"notimp", st.NotImp}, {"invalid", st.Invalid}} {
		w.Counter("kibitz_dns_queries_total", "DNS queries, by how they were answered.", float64(r.n), metrics.Labels{"result": r.kind})
	}
}
