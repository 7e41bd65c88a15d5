package dhcpd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
)

const testURL = "https://10.42.0.1/captive"

// fakeClock is a settable clock for the lease table. time.Now() as the base
// keeps the monotonic reading, like the real clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testConfig(t *testing.T, poolEnd string) Config {
	return Config{
		Interface:        "test0",
		ServerIP:         netip.MustParseAddr("10.42.0.1"),
		Prefix:           netip.MustParsePrefix("10.42.0.0/24"),
		PoolStart:        netip.MustParseAddr("10.42.0.10"),
		PoolEnd:          netip.MustParseAddr(poolEnd),
		LeaseTime:        2 * time.Hour,
		CaptivePortalURL: testURL,
		LeaseFile:        filepath.Join(t.TempDir(), "leases.json"),
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func newTestServer(t *testing.T, cfg Config, clock *fakeClock) *Server {
	t.Helper()
	s, err := newServer(cfg, clock.now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mac(i byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, 0, i} }

// exchange sends raw bytes through the same path as the socket loop.
func exchange(t *testing.T, s *Server, req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	t.Helper()
	reply, dst, changed := s.handlePacket(req.ToBytes(), &net.UDPAddr{IP: net.IPv4zero, Port: 68})
	if changed {
		s.save()
	}
	return reply, dst
}

// lease runs DISCOVER/OFFER/REQUEST/ACK for hw and returns the ACK.
func lease(t *testing.T, s *Server, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	disc, err := dhcpv4.NewDiscovery(hw, mods...)
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := exchange(t, s, disc)
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("DISCOVER from %s: got %v, want OFFER", hw, offer)
	}
	req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := exchange(t, s, req)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST from %s for %s: got %v, want ACK", hw, offer.YourIPAddr, ack)
	}
	if !ack.YourIPAddr.Equal(offer.YourIPAddr) {
		t.Fatalf("ACK %s differs from OFFER %s", ack.YourIPAddr, offer.YourIPAddr)
	}
	return ack
}

func TestAckCarriesNetworkOptions(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	ack := lease(t, s, mac(1), dhcpv4.WithOption(dhcpv4.OptHostName("Anna's\x00Phone")))
	want := net.IPv4(10, 42, 0, 1).To4()
	if got := ack.YourIPAddr.String(); got != "10.42.0.10" {
		t.Errorf("yiaddr %s, want the first pool address 10.42.0.10", got)
	}
	if r := ack.Router(); len(r) != 1 || !r[0].Equal(want) {
		t.Errorf("router %v, want %v", r, want)
	}
	if d := ack.DNS(); len(d) != 1 || !d[0].Equal(want) {
		t.Errorf("DNS %v, want %v", d, want)
	}
	if !ack.ServerIdentifier().Equal(want) {
		t.Errorf("server id %v, want %v", ack.ServerIdentifier(), want)
	}
	if m := ack.SubnetMask(); m.String() != "ffffff00" {
		t.Errorf("mask %v, want ffffff00", m)
	}
	if lt := ack.IPAddressLeaseTime(0); lt != 2*time.Hour {
		t.Errorf("lease time %v, want 2h", lt)
	}
	if got := string(ack.GetOneOption(dhcpv4.GenericOptionCode(114))); got != testURL {
		t.Errorf("option 114 %q, want %q", got, testURL)
	}
	leases := s.Leases()
	if len(leases) != 1 || leases[0].MAC != mac(1).String() || leases[0].IP != "10.42.0.10" {
		t.Fatalf("Leases() = %+v, want one for %s at 10.42.0.10", leases, mac(1))
	}
	if leases[0].Hostname != "Anna's?Phone" {
		t.Errorf("hostname %q: control characters must be replaced", leases[0].Hostname)
	}
	if e := leases[0].ExpiresInSeconds; e != 7200 {
		t.Errorf("expires in %v s, want 7200", e)
	}
}

func TestPoolExhaustionAndExpiry(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.12"), clock)
	seen := map[string]bool{}
	for i := byte(1); i <= 3; i++ {
		ip := lease(t, s, mac(i)).YourIPAddr.String()
		if seen[ip] {
			t.Fatalf("address %s handed out twice", ip)
		}
		seen[ip] = true
		clock.advance(time.Second)
	}
	disc, _ := dhcpv4.NewDiscovery(mac(4))
	if reply, _ := exchange(t, s, disc); reply != nil {
		t.Fatalf("full pool: got %v, want no reply", reply.Summary())
	}
	if n := s.Stats().Drops["pool_full"]; n != 1 {
		t.Fatalf("pool_full drops = %d, want 1", n)
	}
	// After the leases expire, the newcomer gets the address that expired
	// first, i.e. mac(1)'s.
	clock.advance(2*time.Hour - 2500*time.Millisecond)
	if got := lease(t, s, mac(4)).YourIPAddr.String(); got != "10.42.0.10" {
		t.Fatalf("after expiry got %s, want 10.42.0.10 (oldest expired)", got)
	}
	if n := len(s.Leases()); n != 3 {
		t.Fatalf("%d leases, want 3 (mac(1) expired and replaced)", n)
	}
}

func TestOfferIsHeldBriefly(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.10"), clock)
	d1, _ := dhcpv4.NewDiscovery(mac(1))
	if r, _ := exchange(t, s, d1); r == nil {
		t.Fatal("no OFFER")
	}
	d2, _ := dhcpv4.NewDiscovery(mac(2))
	if r, _ := exchange(t, s, d2); r != nil {
		t.Fatal("the single address was offered to two clients at once")
	}
	clock.advance(61 * time.Second)
	if r, _ := exchange(t, s, d2); r == nil || r.YourIPAddr.String() != "10.42.0.10" {
		t.Fatalf("after the offer hold ran out: %v, want OFFER of 10.42.0.10", r)
	}
}

func TestStickyAddressAfterReleaseAndExpiry(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	ack := lease(t, s, mac(1))
	first := ack.YourIPAddr.String()
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	if r, _ := exchange(t, s, rel); r != nil {
		t.Fatal("RELEASE must not be answered")
	}
	if n := len(s.Leases()); n != 0 {
		t.Fatalf("%d leases after RELEASE, want 0", n)
	}
	if got := lease(t, s, mac(2)).YourIPAddr.String(); got == first {
		t.Fatalf("a new client got %s, the released address of another; fresh addresses come first", got)
	}
	if got := lease(t, s, mac(1)).YourIPAddr.String(); got != first {
		t.Fatalf("returning client got %s, want its old %s", got, first)
	}
	clock.advance(3 * time.Hour)
	if got := lease(t, s, mac(1)).YourIPAddr.String(); got != first {
		t.Fatalf("client back after expiry got %s, want its old %s", got, first)
	}
	// One binding per MAC: the client identifier does not name a client.
	id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 1, 2, 3}))
	a := lease(t, s, mac(7), id).YourIPAddr.String()
	if b := lease(t, s, mac(8), id).YourIPAddr.String(); a == b {
		t.Fatalf("same client id, new MAC: got %s again, want another address", b)
	}
	id2 := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 9, 9, 9}))
	if b := lease(t, s, mac(7), id2).YourIPAddr.String(); a != b {
		t.Fatalf("same MAC, new client id: got %s, want its %s", b, a)
	}
}

func TestRequestRules(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	ack := lease(t, s, mac(1))
	taken := ack.YourIPAddr
	initReboot := func(hw net.HardwareAddr, ip net.IP) *dhcpv4.DHCPv4 {
		req, _ := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)))
		return req
	}

	// INIT-REBOOT from a client we have no record of, for a taken, a
	// foreign and a free address: silence (RFC 2131 §4.3.2), and no
	// binding from a REQUEST that no offer preceded.
	for _, ip := range []net.IP{taken, net.IPv4(192, 168, 1, 20), net.IPv4(10, 42, 0, 77)} {
		if r, _ := exchange(t, s, initReboot(mac(2), ip)); r != nil {
			t.Fatalf("INIT-REBOOT from an unknown client for %s answered: %v", ip, r.Summary())
		}
	}
	if n := s.Stats().Drops["no_offer"]; n != 3 {
		t.Fatalf("no_offer drops %d, want 3", n)
	}
	if l := s.Leases(); len(l) != 1 {
		t.Fatalf("leases %+v: a REQUEST without an offer made a binding", l)
	}
	// SELECTING with our server id but no offer: NAK, broadcast.
	sel, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(2)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 42, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 42, 0, 78))))
	if r, dst := exchange(t, s, sel); r == nil || r.MessageType() != dhcpv4.MessageTypeNak || !dst.IP.Equal(net.IPv4bcast) {
		t.Fatalf("SELECTING without an offer: %v to %v, want broadcast NAK", r, dst)
	}
	// A known client asking for an address that is not its own: NAK.
	if r, _ := exchange(t, s, initReboot(mac(1), net.IPv4(10, 42, 0, 77))); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("known client, wrong address: %v, want NAK", r)
	}
	// A known client back after its lease expired (INIT-REBOOT for the
	// address bound to its MAC): ACK.
	clock.advance(3 * time.Hour)
	if r, _ := exchange(t, s, initReboot(mac(1), taken)); r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !r.YourIPAddr.Equal(taken) {
		t.Fatalf("INIT-REBOOT for its own expired lease: %v, want ACK %s", r, taken)
	}
	// Renewal: ciaddr set, unicast ACK back to it.
	renew, _ := dhcpv4.NewRenewFromAck(ack)
	clock.advance(time.Hour)
	r, dst := exchange(t, s, renew)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck || !dst.IP.Equal(taken) {
		t.Fatalf("renewal: %v to %v, want ACK unicast to %v", r, dst, taken)
	}
	for _, l := range s.Leases() {
		if l.IP == taken.String() && l.ExpiresInSeconds != 7200 {
			t.Fatalf("renewed lease expires in %v s, want 7200", l.ExpiresInSeconds)
		}
	}
	// SELECTING with another server's id: silence, and counted.
	other, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(3)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 42, 0, 2))),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 42, 0, 11))))
	if r, _ := exchange(t, s, other); r != nil {
		t.Fatalf("request to another server answered: %v", r.Summary())
	}
	if n := s.Stats().Drops["other_server"]; n != 1 {
		t.Fatalf("other_server drops %d, want 1", n)
	}
	st := s.Stats()
	if st.Naks != 2 || st.Acks != 3 || st.Offers != 1 {
		t.Fatalf("stats %+v: want 2 NAKs, 3 ACKs, 1 OFFER", st)
	}
}

// Issue 13 item 4: a flood of REQUESTs and DISCOVERs with random client
// identifiers, from one MAC and from made-up MACs, cannot take the pool.
func TestFloodCannotTakeThePool(t *testing.T) {
	clock := &fakeClock{time.Now()}
	cfg := testConfig(t, "10.42.0.250")
	attacker, guest := mac(0xa0), mac(0x01)
	cfg.Associated = func(m net.HardwareAddr) bool { return bytes.Equal(m, attacker) || bytes.Equal(m, guest) }
	s := newTestServer(t, cfg, clock)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		hw := attacker
		if i%2 == 1 {
			hw = net.HardwareAddr{0x02, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		}
		id := make([]byte, 8)
		for j := range id {
			id[j] = byte(rng.IntN(256))
		}
		typ := dhcpv4.MessageTypeRequest
		if i%3 == 0 {
			typ = dhcpv4.MessageTypeDiscover
		}
		ip := net.IPv4(10, 42, 0, byte(10+i%241))
		req, _ := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(typ),
			dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 42, 0, 1))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip)))
		exchange(t, s, req)
	}
	if l := s.Leases(); len(l) != 0 {
		t.Fatalf("the flood got %d leases: %+v", len(l), l)
	}
	s.mu.Lock()
	held := len(s.table.byIP)
	s.mu.Unlock()
	if held > 1 {
		t.Fatalf("the flood holds %d addresses (offers or leases), want at most the attacker's one", held)
	}
	if n := s.Stats().Drops["not_associated"]; n != 150 {
		t.Errorf("not_associated drops %d, want the 150 made-up MACs", n)
	}
	lease(t, s, guest)
}

// A renewal is not a binding change: it does not rewrite leases.json.
func TestLeaseFileWrittenOnlyWhenABindingChanges(t *testing.T) {
	clock := &fakeClock{time.Now()}
	cfg := testConfig(t, "10.42.0.250")
	s := newTestServer(t, cfg, clock)
	ack := lease(t, s, mac(1))
	if n := s.Stats().LeaseFileWrites; n != 1 {
		t.Fatalf("%d lease file writes after one new lease, want 1", n)
	}
	before, err := os.ReadFile(cfg.LeaseFile)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		clock.advance(time.Hour)
		renew, _ := dhcpv4.NewRenewFromAck(ack)
		if r, _ := exchange(t, s, renew); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
			t.Fatalf("renewal: %v", r)
		}
		// A DISCOVER from a bound client and a repeated REQUEST change
		// nothing either.
		lease(t, s, mac(1))
	}
	after, _ := os.ReadFile(cfg.LeaseFile)
	if n := s.Stats().LeaseFileWrites; n != 1 || !bytes.Equal(before, after) {
		t.Fatalf("%d lease file writes after renewals, want still 1", n)
	}
	rel, _ := dhcpv4.NewReleaseFromACK(ack)
	exchange(t, s, rel)
	lease(t, s, mac(2))
	if n := s.Stats().LeaseFileWrites; n != 3 {
		t.Fatalf("%d lease file writes after a release and a new lease, want 3", n)
	}
}

func TestDeclineQuarantinesAddress(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.11"), clock)
	ack := lease(t, s, mac(1))
	bad := ack.YourIPAddr
	// A stranger cannot decline someone else's address.
	forged, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(9)), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bad)))
	exchange(t, s, forged)
	if n := len(s.Leases()); n != 1 {
		t.Fatalf("forged DECLINE removed a lease: %d leases", n)
	}
	decl, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(1)), dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(bad)))
	exchange(t, s, decl)
	if got := lease(t, s, mac(1)).YourIPAddr; got.Equal(bad) {
		t.Fatalf("declined address %s handed out again", bad)
	}
	d, _ := dhcpv4.NewDiscovery(mac(2))
	if r, _ := exchange(t, s, d); r != nil {
		t.Fatalf("quarantined address offered: %v", r.YourIPAddr)
	}
	clock.advance(11 * time.Minute)
	s.table.sweep(clock.now())
	if r, _ := exchange(t, s, d); r == nil || !r.YourIPAddr.Equal(bad) {
		t.Fatalf("after quarantine: %v, want OFFER of %v", r, bad)
	}
}

func TestInform(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	inf, _ := dhcpv4.NewInform(mac(1), net.IPv4(10, 42, 0, 99))
	r, dst := exchange(t, s, inf)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INFORM: %v, want ACK", r)
	}
	if !r.YourIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		t.Errorf("INFORM ACK must carry neither yiaddr nor lease time: %s", r.Summary())
	}
	if string(r.GetOneOption(dhcpv4.GenericOptionCode(114))) != testURL {
		t.Errorf("INFORM ACK lacks option 114")
	}
	if !dst.IP.Equal(net.IPv4(10, 42, 0, 99)) {
		t.Errorf("INFORM ACK sent to %v, want ciaddr", dst)
	}
}

func TestLeasesPersistAcrossRestart(t *testing.T) {
	clock := &fakeClock{time.Now()}
	cfg := testConfig(t, "10.42.0.250")
	s1 := newTestServer(t, cfg, clock)
	a := lease(t, s1, mac(1)).YourIPAddr.String()
	b := lease(t, s1, mac(2)).YourIPAddr.String()
	rel, _ := dhcpv4.NewReleaseFromACK(lease(t, s1, mac(3)))
	exchange(t, s1, rel)
	clock.advance(30 * time.Minute)
	s1.save()

	data, err := os.ReadFile(cfg.LeaseFile)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("lease file is not JSON: %v\n%s", err, data)
	}
	// The file must not hold wall-clock instants.
	if bytes.Contains(data, []byte(`"20`)) || bytes.Contains(data, []byte("expir")) {
		t.Fatalf("lease file holds timestamps:\n%s", data)
	}

	// The restarted server runs on a clock far from the first one: only the
	// remaining durations count.
	clock2 := &fakeClock{time.Now().Add(-40 * 365 * 24 * time.Hour)}
	s2 := newTestServer(t, cfg, clock2)
	got := s2.Leases()
	if len(got) != 2 || got[0].IP != a || got[1].IP != b {
		t.Fatalf("restored leases %+v, want %s and %s", got, a, b)
	}
	for _, l := range got {
		if l.ExpiresInSeconds != 90*60 {
			t.Errorf("restored %s expires in %v s, want 5400", l.IP, l.ExpiresInSeconds)
		}
	}
	// A new phone does not get a live address; the released client gets
	// its old one back (the binding persisted with 0 s left).
	if c := lease(t, s2, mac(4)).YourIPAddr.String(); c == a || c == b {
		t.Fatalf("after restart a new client got %s, which is still leased", c)
	}
	if got, want := lease(t, s2, mac(1)).YourIPAddr.String(), a; got != want {
		t.Fatalf("after restart mac(1) got %s, want its %s", got, want)
	}
}

func TestLeaseFileClampsRemaining(t *testing.T) {
	cfg := testConfig(t, "10.42.0.250")
	doc := `{"version":1,"leases":[
	 {"client":"mac:02:00:00:00:00:01","mac":"02:00:00:00:00:01","ip":"10.42.0.20","remaining_s":1e12},
	 {"client":"mac:02:00:00:00:00:02","mac":"02:00:00:00:00:02","ip":"10.42.0.21","remaining_s":-5},
	 {"client":"mac:02:00:00:00:00:03","mac":"02:00:00:00:00:03","ip":"192.168.9.9","remaining_s":60}]}`
	if err := os.WriteFile(cfg.LeaseFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, cfg, &fakeClock{time.Now()})
	got := s.Leases()
	if len(got) != 1 || got[0].IP != "10.42.0.20" || got[0].ExpiresInSeconds > 7200 {
		t.Fatalf("leases %+v: want only 10.42.0.20, clamped to the 2 h lease time", got)
	}
}

func TestCorruptLeaseFileMovedAside(t *testing.T) {
	cfg := testConfig(t, "10.42.0.250")
	for name, doc := range map[string]string{
		"garbage":   "\x00\x01not json",
		"truncated": `{"version":1,"leases":[{"client":"x","mac":"02:00`,
		"bad ip":    `{"version":1,"leases":[{"client":"x","mac":"02:00:00:00:00:01","ip":"10.42.0.300","remaining_s":1}]}`,
		"version":   `{"version":99,"leases":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg.LeaseFile = filepath.Join(t.TempDir(), "leases.json")
			if err := os.WriteFile(cfg.LeaseFile, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			clock := &fakeClock{time.Now()}
			s := newTestServer(t, cfg, clock)
			if n := len(s.Leases()); n != 0 {
				t.Fatalf("%d leases from a corrupt file", n)
			}
			aside, _ := filepath.Glob(cfg.LeaseFile + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("corrupt file not moved aside: %v", aside)
			}
			if !strings.Contains(logs.String(), "lease file corrupt") {
				t.Errorf("no log line about the corrupt file: %s", logs.String())
			}
			// The server works and writes a fresh file.
			lease(t, s, mac(1))
			var f leaseFile
			data, _ := os.ReadFile(cfg.LeaseFile)
			if err := json.Unmarshal(data, &f); err != nil || len(f.Leases) != 1 {
				t.Fatalf("fresh lease file %s: %v", data, err)
			}
		})
	}
}

func TestConfigChecks(t *testing.T) {
	base := testConfig(t, "10.42.0.250")
	for name, mutate := range map[string]func(*Config){
		"no interface":    func(c *Config) { c.Interface = "" },
		"server outside":  func(c *Config) { c.ServerIP = netip.MustParseAddr("10.43.0.1") },
		"pool reversed":   func(c *Config) { c.PoolStart, c.PoolEnd = c.PoolEnd, c.PoolStart },
		"pool outside":    func(c *Config) { c.PoolEnd = netip.MustParseAddr("10.42.1.5") },
		"URL too long":    func(c *Config) { c.CaptivePortalURL = "http://" + strings.Repeat("a", 300) },
		"lease too short": func(c *Config) { c.LeaseTime = time.Second },
		"ipv6":            func(c *Config) { c.ServerIP = netip.MustParseAddr("fe80::1") },
	} {
		c := base
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}

// TestBadPacketsDoNotCrash feeds truncations of a valid packet, random
// bytes and semantically bad requests, then checks the server still leases.
func TestBadPacketsDoNotCrash(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	disc, _ := dhcpv4.NewDiscovery(mac(1), dhcpv4.WithOption(dhcpv4.OptHostName("x")))
	full := disc.ToBytes()
	peer := &net.UDPAddr{IP: net.IPv4zero, Port: 68}
	malformed := 0
	for n := 0; n < len(full); n++ {
		if r, _, _ := s.handlePacket(full[:n], peer); r != nil && n < 240 {
			t.Fatalf("a %d-byte truncation got a reply", n)
		}
	}
	malformed = int(s.Stats().Drops["malformed"])
	if malformed < 200 {
		t.Fatalf("only %d truncations counted as malformed", malformed)
	}
	rnd := []byte{}
	for i := range 2000 {
		rnd = append(rnd, byte(i*131+7))
		s.handlePacket(rnd, peer)
	}
	bootReply, _ := dhcpv4.NewReplyFromRequest(disc)
	noType, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(2)))
	relayed, _ := dhcpv4.NewDiscovery(mac(3), dhcpv4.WithGatewayIP(net.IPv4(10, 1, 1, 1)))
	shortHW, _ := dhcpv4.NewDiscovery(net.HardwareAddr{1, 2})
	for _, p := range []*dhcpv4.DHCPv4{bootReply, noType, relayed, shortHW} {
		if r, _ := exchange(t, s, p); r != nil {
			t.Fatalf("bad request %s answered", p.Summary())
		}
	}
	st := s.Stats()
	for _, reason := range []string{"not_request", "no_message_type", "relayed", "bad_hwaddr"} {
		if st.Drops[reason] == 0 {
			t.Errorf("no drop counted for %s: %v", reason, st.Drops)
		}
	}
	lease(t, s, mac(1))

	var buf bytes.Buffer
	w := metrics.NewWriter(&buf)
	s.WriteMetrics(w)
	w.Flush()
	for _, want := range []string{`kibitz_dhcp_dropped_total{reason="malformed"}`, `kibitz_dhcp_sent_total{type="ack"} 1`, "kibitz_dhcp_leases 1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, buf.String())
		}
	}
}

func FuzzHandlePacket(f *testing.F) {
	disc, _ := dhcpv4.NewDiscovery(mac(1))
	f.Add(disc.ToBytes())
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(2)), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 42, 0, 12))))
	f.Add(req.ToBytes())
	f.Add([]byte{1, 1, 6, 0})
	clock := &fakeClock{time.Now()}
	cfg := Config{
		Interface: "fuzz0", ServerIP: netip.MustParseAddr("10.42.0.1"), Prefix: netip.MustParsePrefix("10.42.0.0/24"),
		PoolStart: netip.MustParseAddr("10.42.0.10"), PoolEnd: netip.MustParseAddr("10.42.0.20"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := newServer(cfg, clock.now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		clock.advance(time.Second)
		r, dst, _ := s.handlePacket(pkt, &net.UDPAddr{IP: net.IPv4zero, Port: 68})
		if r != nil {
			if dst == nil {
				t.Fatal("reply without destination")
			}
			r.ToBytes()
		}
		if n := len(s.table.byIP); n > 11 {
			t.Fatalf("%d bindings for an 11-address pool", n)
		}
	})
}

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func discardLogger() *slog.Logger      { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDropLogsAreRateLimited(t *testing.T) {
	clock := &fakeClock{time.Now()}
	cfg := testConfig(t, "10.42.0.250")
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := newTestServer(t, cfg, clock)
	peer := &net.UDPAddr{IP: net.IPv4zero, Port: 68}
	for range 100 {
		s.handlePacket([]byte{1, 2, 3}, peer)
	}
	if n := strings.Count(logs.String(), "malformed packet dropped"); n != 1 {
		t.Fatalf("%d log lines for 100 malformed packets within a second, want 1:\n%s", n, logs.String())
	}
	clock.advance(11 * time.Second)
	s.handlePacket([]byte{1, 2, 3}, peer)
	if n := strings.Count(logs.String(), "malformed packet dropped"); n != 2 || !strings.Contains(logs.String(), "suppressed_since_last=99") {
		t.Fatalf("after the interval want a second line counting 99 suppressed:\n%s", logs.String())
	}
	if got := s.Stats().Drops["malformed"]; got != 101 {
		t.Fatalf("malformed drops %d, want 101 (counting is not rate-limited)", got)
	}
}

// TestServeEndsOnSocketError checks that a socket failure ends the serve
// loop with an error instead of a hang, and that cancelling ends it cleanly
// with the leases saved.
func TestServeEndsOnSocketError(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close() // every read now fails
	done := make(chan error, 1)
	go func() { done <- s.serve(context.Background(), pc) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "dhcpd: read on test0") {
			t.Fatalf("serve returned %v, want a read error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve hung after its socket failed")
	}

	// A write that failed (here: a directory is in the file's way) is
	// retried when serve stops; a clean state is not rewritten.
	if err := os.Mkdir(s.cfg.LeaseFile, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.cfg.LeaseFile, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lease(t, s, mac(1))
	if n := s.Stats().LeaseFileWrites; n != 0 {
		t.Fatalf("%d lease file writes through a directory", n)
	}
	os.RemoveAll(s.cfg.LeaseFile)
	pc2, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- s.serve(ctx, pc2) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
	if _, err := os.Stat(s.cfg.LeaseFile); err != nil || s.Stats().LeaseFileWrites != 1 {
		t.Fatalf("the failed write was not retried on shutdown: %v", err)
	}
}

func TestRequestedAddressHonouredUnlessSticky(t *testing.T) {
	clock := &fakeClock{time.Now()}
	s := newTestServer(t, testConfig(t, "10.42.0.250"), clock)
	want := net.IPv4(10, 42, 0, 99)
	d, _ := dhcpv4.NewDiscovery(mac(1), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(want)))
	if r, _ := exchange(t, s, d); r == nil || !r.YourIPAddr.Equal(want) {
		t.Fatalf("DISCOVER asking for %v: %v", want, r)
	}
	// mac(2) holds .10 and lets it expire; mac(3) asking for .10 gets a
	// fresh address instead, so mac(2) can come back to its own.
	held := lease(t, s, mac(2)).YourIPAddr
	clock.advance(3 * time.Hour)
	d3, _ := dhcpv4.NewDiscovery(mac(3), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(held)))
	if r, _ := exchange(t, s, d3); r == nil || r.YourIPAddr.Equal(held) {
		t.Fatalf("DISCOVER asking for another client's remembered %v: %v", held, r)
	}
	if got := lease(t, s, mac(2)).YourIPAddr; !got.Equal(held) {
		t.Fatalf("returning client got %v, want %v", got, held)
	}
}
