package dnsd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

func newTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if !cfg.Answer.IsValid() {
		cfg.Answer = netip.MustParseAddr("10.42.0.1")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	return m
}

func TestRespond(t *testing.T) {
	s := newTestServer(t, Config{Addr: "127.0.0.1:53", TTL: 30 * time.Second})
	for _, tc := range []struct {
		name    string
		qtype   uint16
		rcode   int
		answerA bool
	}{
		{"connectivitycheck.gstatic.com", dns.TypeA, dns.RcodeSuccess, true},
		{"captive.apple.com", dns.TypeA, dns.RcodeSuccess, true},
		{"WWW.MSFTCONNECTTEST.COM", dns.TypeA, dns.RcodeSuccess, true},
		{"example.org", dns.TypeANY, dns.RcodeSuccess, true},
		{"example.org", dns.TypeAAAA, dns.RcodeSuccess, false},
		{"www.google.com", dns.TypeHTTPS, dns.RcodeSuccess, false},
		{"_dns.resolver.arpa", dns.TypeSVCB, dns.RcodeSuccess, false},
		{"example.org", dns.TypeMX, dns.RcodeSuccess, false},
		{"1.0.42.10.in-addr.arpa", dns.TypePTR, dns.RcodeSuccess, false},
		{"printer.local", dns.TypeA, dns.RcodeRefused, false},
		{"Printer.LOCAL.", dns.TypeAAAA, dns.RcodeRefused, false},
		{"local", dns.TypeSOA, dns.RcodeRefused, false},
		{"notlocal", dns.TypeA, dns.RcodeSuccess, true},
		{"use-application-dns.net", dns.TypeA, dns.RcodeNameError, false},
		{"Mask.iCloud.com", dns.TypeAAAA, dns.RcodeNameError, false},
		{"mask-h2.icloud.com", dns.TypeHTTPS, dns.RcodeNameError, false},
		{"www.mask.icloud.com", dns.TypeA, dns.RcodeSuccess, true},
		{"wpad", dns.TypeA, dns.RcodeNameError, false},
		{"WPAD.home.arpa", dns.TypeA, dns.RcodeNameError, false},
		{"isatap", dns.TypeA, dns.RcodeNameError, false},
		{"wpadx.example", dns.TypeA, dns.RcodeSuccess, true},
	} {
		req := query(tc.name, tc.qtype)
		m := s.Respond(req)
		if m.Rcode != tc.rcode || m.Id != req.Id || !m.Response {
			t.Errorf("%s %s: rcode %s id %d, want %s id %d", tc.name, dns.TypeToString[tc.qtype],
				dns.RcodeToString[m.Rcode], m.Id, dns.RcodeToString[tc.rcode], req.Id)
			continue
		}
		if !tc.answerA {
			if len(m.Answer) != 0 {
				t.Errorf("%s %s: answers %v, want none", tc.name, dns.TypeToString[tc.qtype], m.Answer)
			}
			continue
		}
		if len(m.Answer) != 1 {
			t.Errorf("%s: %d answers, want 1", tc.name, len(m.Answer))
			continue
		}
		a, ok := m.Answer[0].(*dns.A)
		if !ok || !a.A.Equal(net.IPv4(10, 42, 0, 1)) || a.Hdr.Ttl != 30 || a.Hdr.Name != dns.Fqdn(tc.name) {
			t.Errorf("%s: answer %v, want %s 30 IN A 10.42.0.1", tc.name, m.Answer[0], dns.Fqdn(tc.name))
		}
	}
	ncsi := s.Respond(query("dns.msftncsi.com", dns.TypeA))
	if len(ncsi.Answer) != 1 || !ncsi.Answer[0].(*dns.A).A.Equal(net.IPv4(131, 107, 255, 255)) {
		t.Errorf("NCSI DNS probe: %v, want 131.107.255.255", ncsi.Answer)
	}
	st := s.Stats()
	if st.Answered != 8 || st.Empty != 5 || st.Refused != 3 || st.NXDomain != 6 {
		t.Errorf("stats %+v, want 8 answered, 5 empty, 3 refused, 6 nxdomain", st)
	}
}

func TestRespondOddRequests(t *testing.T) {
	s := newTestServer(t, Config{Addr: "127.0.0.1:53"})
	chaos := query("version.bind", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	if m := s.Respond(chaos); m.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS query: %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
	two := query("a.example", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m := s.Respond(two); m.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[m.Rcode])
	}
	upd := query("a.example", dns.TypeA)
	upd.Opcode = dns.OpcodeUpdate
	if m := s.Respond(upd); m.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE: %s, want NOTIMP", dns.RcodeToString[m.Rcode])
	}
	edns := query("a.example", dns.TypeA)
	edns.SetEdns0(4096, true)
	m := s.Respond(edns)
	if m.IsEdns0() == nil || len(m.Answer) != 1 {
		t.Errorf("EDNS query: %v, want an A answer with OPT", m)
	}
	edns.IsEdns0().SetVersion(1)
	if m := s.Respond(edns); m.Rcode != dns.RcodeBadVers {
		t.Errorf("EDNS version 1: %s, want BADVERS", dns.RcodeToString[m.Rcode])
	}
}

func TestConfigChecks(t *testing.T) {
	for name, cfg := range map[string]Config{
		"ipv6 answer": {Addr: "127.0.0.1:53", Answer: netip.MustParseAddr("::1")},
		"no answer":   {Addr: "127.0.0.1:53"},
		"bad addr":    {Addr: "10.42.0.1", Answer: netip.MustParseAddr("10.42.0.1")},
		"long TTL":    {Addr: "127.0.0.1:53", Answer: netip.MustParseAddr("10.42.0.1"), TTL: 48 * time.Hour},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

// startLoopback runs a server on ephemeral loopback ports.
func startLoopback(t testing.TB) (*Server, string, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{PacketConn: pc, Listener: ln})
	testenv.Serve(t, s.Run)
	return s, pc.LocalAddr().String(), ln.Addr().String()
}

func exchange(t testing.TB, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	var r *dns.Msg
	var err error
	// The servers start asynchronously; retry briefly until they answer.
	for range 20 {
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s query to %s: %v", network, addr, err)
	return nil
}

func TestServeUDPAndTCPAndSurviveGarbage(t *testing.T) {
	s, udpAddr, tcpAddr := startLoopback(t)
	for _, tr := range []struct{ net, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		r := exchange(t, tr.net, tr.addr, query("kibitz.home.arpa", dns.TypeA))
		if len(r.Answer) != 1 || !r.Answer[0].(*dns.A).A.Equal(net.IPv4(10, 42, 0, 1)) {
			t.Fatalf("%s: %v, want A 10.42.0.1", tr.net, r)
		}
	}

	// Garbage over UDP: a short header, random bytes, a header that
	// promises questions it does not hold, a response packet.
	uc, err := net.Dial("udp4", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	q, _ := query("x.example", dns.TypeA).Pack()
	resp := query("x.example", dns.TypeA)
	resp.Response = true
	rp, _ := resp.Pack()
	lying := append([]byte(nil), q[:12]...)
	lying[5] = 3 // qdcount 3, no questions
	garbage := [][]byte{{0x12}, bytes.Repeat([]byte{0xff}, 600), q[:len(q)-3], lying, rp}
	for _, g := range garbage {
		if _, err := uc.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	// Garbage over TCP: a length prefix with junk, then a lie about the length.
	tc, err := net.Dial("tcp4", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte{0, 5, 1, 2, 3, 4, 5, 0xff, 0xff, 1})
	tc.Close()

	// FORMERR for the lying header arrives; nothing at all for pure junk.
	uc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, err := uc.Read(buf)
	if err != nil {
		t.Fatalf("no FORMERR for a malformed query: %v", err)
	}
	var fe dns.Msg
	if err := fe.Unpack(buf[:n]); err != nil || fe.Rcode != dns.RcodeFormatError {
		t.Fatalf("reply to malformed query: %v %v, want FORMERR", &fe, err)
	}

	for _, tr := range []struct{ net, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		r := exchange(t, tr.net, tr.addr, query("after.garbage", dns.TypeA))
		if len(r.Answer) != 1 {
			t.Fatalf("%s after garbage: %v", tr.net, r)
		}
	}
	st := s.Stats()
	if st.Invalid < 2 || st.FormErr < 1 {
		t.Errorf("stats %+v: want the junk counted as invalid and formerr", st)
	}
	var mb bytes.Buffer
	w := metrics.NewWriter(&mb)
	s.WriteMetrics(w)
	w.Flush()
	if !strings.Contains(mb.String(), `kibitz_dns_queries_total{result="answer"} 4`) {
		t.Errorf("metrics:\n%s", mb.String())
	}
}

// FuzzRespond runs whatever parses as a DNS message through Respond and
// packs the reply, as the server would.
func FuzzRespond(f *testing.F) {
	q, _ := query("a.example", dns.TypeA).Pack()
	f.Add(q)
	l, _ := query("b.local", dns.TypeAAAA).Pack()
	f.Add(l)
	f.Add([]byte{0, 0, 1, 0, 0, 1})
	s := newTestServer(f, Config{Addr: "127.0.0.1:53"})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var req dns.Msg
		if err := req.Unpack(pkt); err != nil {
			return
		}
		if _, err := s.Respond(&req).Pack(); err != nil {
			t.Fatalf("reply to %v does not pack: %v", &req, err)
		}
	})
}

func TestRunFailsInsteadOfHanging(t *testing.T) {
	busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s := newTestServer(t, Config{Addr: busy.LocalAddr().String()})
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen udp") {
		t.Fatalf("Run on a busy port: %v, want a listen error", err)
	}

	// A socket that dies under the server ends Run with an error.
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	pc.Close()
	s = newTestServer(t, Config{PacketConn: pc, Listener: ln})
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil with a closed socket")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run hung with a closed socket")
	}
}
