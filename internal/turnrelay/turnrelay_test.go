package turnrelay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

const (
	testUser = "guest"
	testPass = "correcthorsebattery"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testConfig is a relay on a free loopback port that accepts 127.0.0.1 only.
func testConfig() Config {
	return Config{
		Port:       0,
		ListenIP:   loopback,
		RelayIP:    loopback,
		ClientNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Users:      map[string]string{testUser: testPass},
		Listeners:  4,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// startRelay runs a Server until the test ends and checks that Run returns.
func startRelay(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testenv.Serve(t, s.Run)
	return s
}

// turnClient is a real pion/turn client on its own loopback UDP socket.
type turnClient struct {
	conn   *net.UDPConn
	client *turn.Client
}

// newTURNClient makes a client; rto, if given, replaces the 50 ms
// retransmission timeout (tests expecting no answer use a short one).
func newTURNClient(t testing.TB, server netip.AddrPort, local netip.Addr, user, pass string, rto ...time.Duration) *turnClient {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		t.Fatalf("client socket on %v: %v", local, err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	timeout := 50 * time.Millisecond
	if len(rto) > 0 {
		timeout = rto[0]
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server.String(),
		TURNServerAddr: server.String(),
		Conn:           conn,
		Username:       user,
		Password:       pass,
		Realm:          DefaultRealm,
		RTO:            timeout,
		LoggerFactory:  lf,
	})
	if err != nil {
		_ = conn.Close()
		t.Fatalf("turn.NewClient: %v", err)
	}
	if err := c.Listen(); err != nil {
		c.Close()
		_ = conn.Close()
		t.Fatalf("client Listen: %v", err)
	}
	tc := &turnClient{conn: conn, client: c}
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})
	return tc
}

func (c *turnClient) allocate(t testing.TB) net.PacketConn {
	t.Helper()
	relay, err := c.client.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

// relayPair allocates for two clients and returns their relay conns.
func relayPair(t *testing.T, s *Server) (a, b net.PacketConn) {
	t.Helper()
	a = newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)
	b = newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)
	return a, b
}

// openMsg is what a receiver sends first: TURN only lets a datagram into an
// allocation that holds a permission for the sender, as ICE checks in both
// directions arrange in a real call.
var openMsg = []byte("open")

// expectRelayed sends numbered datagrams from src to dst's relayed address
// until count of them arrived at dst (bounded by 5 s), checking source
// address and content.
func expectRelayed(t *testing.T, src, dst net.PacketConn, count int) {
	t.Helper()
	if _, err := dst.WriteTo(openMsg, src.LocalAddr()); err != nil {
		t.Fatalf("permission from %v towards %v: %v", dst.LocalAddr(), src.LocalAddr(), err)
	}
	deadline := time.Now().Add(5 * time.Second)
	got := 0
	buf := make([]byte, 2048)
	for seq := 0; got < count && time.Now().Before(deadline); seq++ {
		msg := fmt.Appendf(nil, "media %s->%s #%d", src.LocalAddr(), dst.LocalAddr(), seq)
		if _, err := src.WriteTo(msg, dst.LocalAddr()); err != nil {
			t.Fatalf("WriteTo %v: %v", dst.LocalAddr(), err)
		}
		_ = dst.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := dst.ReadFrom(buf)
		if err != nil {
			continue // lost while the permission or channel was set up: send the next one
		}
		if from.String() != src.LocalAddr().String() {
			t.Fatalf("datagram at %v came from %v, want the relay %v", dst.LocalAddr(), from, src.LocalAddr())
		}
		if bytes.Equal(buf[:n], openMsg) {
			continue
		}
		if !bytes.HasPrefix(buf[:n], fmt.Appendf(nil, "media %s->%s #", src.LocalAddr(), dst.LocalAddr())) {
			t.Fatalf("unexpected payload %q", buf[:n])
		}
		got++
	}
	if got < count {
		t.Fatalf("%v -> %v: %d of %d datagrams arrived within 5 s", src.LocalAddr(), dst.LocalAddr(), got, count)
	}
}

func TestRelayToRelayBothWays(t *testing.T) {
	s := startRelay(t, testConfig())
	a, b := relayPair(t, s)
	for _, pc := range []net.PacketConn{a, b} {
		ra := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		if ra.Addr() != loopback || ra.Port() < relayPortMin || ra.Port() == s.Addr().Port() {
			t.Fatalf("relayed address %v: want %v with a port in %d-%d", ra, loopback, relayPortMin, relayPortMax)
		}
	}
	if got := s.Stats().Allocations; got != 2 {
		t.Fatalf("Allocations = %d, want 2", got)
	}
	// 50 each way: the first go as Send/Data indications, the rest over
	// the channel the pion client binds meanwhile.
	expectRelayed(t, a, b, 50)
	expectRelayed(t, b, a, 50)
	// Both clients bound channels by now, so more traffic takes the
	// direct ChannelData path.
	for _, pair := range [][2]net.PacketConn{{a, b}, {b, a}} {
		waitChannel(t, s, pair[1], pair[0])
	}
	expectRelayed(t, a, b, 50)
	expectRelayed(t, b, a, 50)
	st := s.Stats()
	if st.RelayedPackets < 200 || st.RelayedBytes < 200*20 {
		t.Fatalf("counters did not follow the traffic: %+v", st)
	}
	if st.Refused != 0 {
		t.Fatalf("legitimate traffic was refused: %+v", st)
	}
	if st.Listeners != 4 || st.RecvBuffer <= 0 || st.SendBuffer <= 0 {
		t.Fatalf("listener figures not reported: %+v", st)
	}
	doc := s.Status()
	if doc.Port != int(s.Addr().Port()) || doc.Allocations != 2 || doc.RelayedBytes != st.RelayedBytes {
		t.Fatalf("Status() = %+v, stats %+v", doc, st)
	}
	var out strings.Builder
	mw := metrics.NewWriter(&out)
	s.WriteMetrics(mw)
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kibitz_turn_allocations 2\n",
		fmt.Sprintf("kibitz_turn_relayed_packets_total %d\n", st.RelayedPackets),
		`kibitz_turn_refused_total{reason="permission"} 0`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, out.String())
		}
	}
}

// waitChannel waits until the allocation at owner has a channel bound to
// the relayed address of peer.
func waitChannel(t *testing.T, s *Server, owner, peer net.PacketConn) {
	t.Helper()
	oa := owner.LocalAddr().(*net.UDPAddr).AddrPort()
	pa := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if rc := s.table.lookup(oa); rc != nil {
			if _, ok := (*rc.channels.Load())[pa]; ok {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("allocation %v never bound a channel to %v", oa, pa)
}

// sendIndication builds a TURN Send indication of data to peer.
func sendIndication(t *testing.T, peer net.Addr, data []byte) []byte {
	t.Helper()
	m := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication))
	ua := peer.(*net.UDPAddr)
	if err := (&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}).AddToAs(m, stun.AttrXORPeerAddress); err != nil {
		t.Fatal(err)
	}
	m.Add(stun.AttrData, data)
	return m.Raw
}

// TestRelayWithoutChannels covers the path before any ChannelBind: Send
// indications in, Data indications out.
func TestRelayWithoutChannels(t *testing.T) {
	s := startRelay(t, testConfig())
	ca := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	cb := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	a, b := ca.allocate(t), cb.allocate(t)
	if err := ca.client.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := cb.client.CreatePermission(a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	server := net.UDPAddrFromAddrPort(s.Addr())
	buf := make([]byte, 2048)
	for i := range 20 {
		want := fmt.Appendf(nil, "indication %d", i)
		if _, err := ca.client.WriteTo(sendIndication(t, b.LocalAddr(), want), server); err != nil {
			t.Fatal(err)
		}
		_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := b.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d did not arrive: %v", i, err)
		}
		if from.String() != a.LocalAddr().String() || !bytes.Equal(buf[:n], want) {
			t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, want, a.LocalAddr())
		}
	}
	if rc := s.table.lookup(b.LocalAddr().(*net.UDPAddr).AddrPort()); len(*rc.channels.Load()) != 0 {
		t.Fatal("a channel was bound, so this test did not cover the indication path")
	}
	if st := s.Stats(); st.RelayedPackets != 20 {
		t.Fatalf("RelayedPackets = %d, want 20", st.RelayedPackets)
	}
}

func TestPermissionOnlyToRelayedAddresses(t *testing.T) {
	s := startRelay(t, testConfig())
	ca := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	a := ca.allocate(t)
	b := newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)

	// A "box service" on loopback that must stay unreachable through TURN.
	svc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	bPort := b.LocalAddr().(*net.UDPAddr).Port
	refused := []struct {
		name string
		addr *net.UDPAddr
	}{
		{"loopback service", svc.LocalAddr().(*net.UDPAddr)},
		{"the TURN listener itself", net.UDPAddrFromAddrPort(s.Addr())},
		{"non-relay LAN address", &net.UDPAddr{IP: net.IPv4(192, 168, 1, 20), Port: 5000}},
		{"port next to a relayed address", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: bPort + 1}},
		{"status endpoint", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8079}},
	}
	for i, r := range refused {
		if err := ca.client.CreatePermission(r.addr); err == nil {
			t.Errorf("CreatePermission to %s (%v) was granted", r.name, r.addr)
		}
		// At least: a retransmitted request (slow machine) counts again.
		if got := s.Stats().RefusedPermission; got < uint64(i+1) {
			t.Errorf("after refusing %s: RefusedPermission = %d, want at least %d", r.name, got, i+1)
		}
	}
	if err := ca.client.CreatePermission(b.LocalAddr()); err != nil {
		t.Fatalf("CreatePermission to another allocation's relayed address %v: %v", b.LocalAddr(), err)
	}

	// TURN permissions are per IP, so A now holds one for 127.0.0.1. A Send
	// indication to a non-relay port on that IP must still go nowhere.
	before := s.Stats().DroppedNoRoute
	send := sendIndication(t, svc.LocalAddr(), []byte("let me in"))
	for range 20 {
		if _, err := ca.client.WriteTo(send, net.UDPAddrFromAddrPort(s.Addr())); err != nil {
			t.Fatalf("Send indication: %v", err)
		}
	}
	_ = svc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, from, err := svc.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("the loopback service received %d bytes from %v through TURN", n, from)
	}
	if got := s.Stats().DroppedNoRoute; got == before {
		t.Fatal("datagrams to a non-relay address were not counted as dropped")
	}
	// The legitimate path still works.
	expectRelayed(t, a, b, 5)
}

func TestWrongCredentialsRefused(t *testing.T) {
	s := startRelay(t, testConfig())
	for _, cred := range []struct{ user, pass string }{
		{testUser, "wrongpassword"},
		{"stranger", testPass},
	} {
		c := newTURNClient(t, s.Addr(), loopback, cred.user, cred.pass)
		if relay, err := c.client.Allocate(); err == nil {
			_ = relay.Close()
			t.Fatalf("Allocate as %q with a wrong password succeeded", cred.user)
		}
	}
	st := s.Stats()
	if st.Allocations != 0 || st.RefusedAuth < 2 || st.Refused < 2 {
		t.Fatalf("after two bad logins: %+v", st)
	}
}

func TestClientOutsideClientNetsRefused(t *testing.T) {
	s := startRelay(t, testConfig())
	server := s.Addr()
	c := newTURNClient(t, server, netip.MustParseAddr("127.0.0.3"), testUser, testPass, 10*time.Millisecond)
	if relay, err := c.client.Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("a client from 127.0.0.3 allocated, but only 127.0.0.1/32 may")
	}
	st := s.Stats()
	if st.Allocations != 0 || st.RefusedClientNet == 0 {
		t.Fatalf("outside client: %+v", st)
	}
	// A client inside the nets still gets through.
	newTURNClient(t, server, loopback, testUser, testPass).allocate(t)
}

func TestAllocationCapPerClient(t *testing.T) {
	cfg := testConfig()
	cfg.MaxAllocationsPerClient = 2
	s := startRelay(t, cfg)
	var relays []net.PacketConn
	for range 2 {
		relays = append(relays, newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t))
	}
	third := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	if relay, err := third.client.Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("third allocation from 127.0.0.1 granted with a cap of 2")
	}
	if st := s.Stats(); st.RefusedQuota == 0 || st.Allocations != 2 {
		t.Fatalf("after the refused third allocation: %+v", st)
	}
	// Freeing one (Refresh with lifetime 0) makes room again.
	if err := relays[0].Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Allocations != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Stats().Allocations; got != 1 {
		t.Fatalf("Allocations = %d after closing one of two", got)
	}
	newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)
}

// garbage returns datagrams a hostile or broken guest might send: random
// bytes, truncated and corrupted STUN, ChannelData for unbound channels,
// oversized datagrams.
func garbage(rng *rand.Rand, i int) []byte {
	switch i % 6 {
	case 0:
		b := make([]byte, rng.IntN(1500))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return b
	case 1: // STUN header cut short
		m := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
		return m.Raw[:rng.IntN(len(m.Raw))]
	case 2: // a CreatePermission with a corrupted body
		m := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
			&stun.XORMappedAddress{IP: net.IPv4(127, 0, 0, 1), Port: 1})
		raw := append([]byte(nil), m.Raw...)
		raw[20+rng.IntN(len(raw)-20)] ^= 0xff
		return raw
	case 3: // ChannelData on a channel nobody bound, length field lying
		b := make([]byte, 4+rng.IntN(200))
		b[0], b[1] = 0x40, byte(rng.Uint32())
		b[2], b[3] = 0xff, 0xff
		return b
	case 4: // a Send indication without any allocation
		m := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication))
		return m.Raw
	default:
		return make([]byte, 9000+rng.IntN(50000))
	}
}

func TestGarbageDoesNotDisturbRunningRelay(t *testing.T) {
	s := startRelay(t, testConfig())
	a, b := relayPair(t, s)
	expectRelayed(t, a, b, 5)

	rng := rand.New(rand.NewPCG(1, 2))
	var senders []*net.UDPConn
	for range 8 { // several source ports so all listeners get some
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		senders = append(senders, c)
	}
	for i := range 6000 {
		_, _ = senders[i%len(senders)].Write(garbage(rng, i))
	}
	expectRelayed(t, a, b, 20)
	expectRelayed(t, b, a, 20)
	newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)
	if st := s.Stats(); st.Allocations != 3 {
		t.Fatalf("Allocations = %d after garbage, want 3", st.Allocations)
	}
}

func TestShutdownReleasesPortAndAllocations(t *testing.T) {
	cfg := testConfig()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	a, b := relayPair(t, s)
	expectRelayed(t, a, b, 3)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of cancel")
	}
	if got := s.Stats().Allocations; got != 0 {
		t.Fatalf("%d allocations left after shutdown", got)
	}
	// A plain socket (no SO_REUSEPORT) can only bind if every listener is gone.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.Addr()))
	if err != nil {
		t.Fatalf("port %v still held after shutdown: %v", s.Addr(), err)
	}
	_ = c.Close()
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no relay IP":     func(c *Config) { c.RelayIP = netip.Addr{} },
		"IPv6 relay IP":   func(c *Config) { c.RelayIP = netip.MustParseAddr("::1") },
		"no client nets":  func(c *Config) { c.ClientNets = nil },
		"no users":        func(c *Config) { c.Users = nil },
		"empty password":  func(c *Config) { c.Users = map[string]string{"u": ""} },
		"port over 65535": func(c *Config) { c.Port = 70000 },
	} {
		cfg := testConfig()
		mutate(&cfg)
		s, err := New(cfg)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: New accepted it", name)
		}
	}
	// A busy port is reported by New.
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := testConfig()
	cfg.Port = int(s.Addr().Port())
	cfg.Listeners = 1
	if s2, err := New(cfg); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		if s2 != nil {
			_ = s2.Close()
		}
		t.Fatalf("New on a busy port: err = %v", err)
	}
}

func TestPeerAddressesOfPermissionRequests(t *testing.T) {
	peer := &stun.XORMappedAddress{IP: net.IPv4(10, 42, 0, 1), Port: 50123}
	for _, method := range []stun.Method{stun.MethodCreatePermission, stun.MethodChannelBind} {
		m := stun.MustBuild(stun.TransactionID, stun.NewType(method, stun.ClassRequest))
		if err := peer.AddToAs(m, stun.AttrXORPeerAddress); err != nil {
			t.Fatal(err)
		}
		if !isPermissionRequest(m.Raw) {
			t.Fatalf("%v request not recognised", method)
		}
		got := appendPeerAddrs(nil, m.Raw)
		if want := netip.MustParseAddrPort("10.42.0.1:50123"); len(got) != 1 || got[0] != want {
			t.Fatalf("%v: peers %v, want [%v]", method, got, want)
		}
	}
	for name, b := range map[string][]byte{
		"allocate":     stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest)).Raw,
		"channel data": {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4},
		"short":        {0x00, 0x08},
	} {
		if isPermissionRequest(b) {
			t.Errorf("%s taken for a permission request", name)
		}
	}
}

// TestChannelBindOnlyToRelayedAddresses sends ChannelBind requests by hand
// (pion's client only binds after a granted permission): one to a loopback
// service is refused, one to another allocation is granted (the control that
// shows the hand-made request is valid).
func TestChannelBindOnlyToRelayedAddresses(t *testing.T) {
	s := startRelay(t, testConfig())
	server := net.UDPAddrFromAddrPort(s.Addr())
	ca := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	a := ca.allocate(t)
	b := newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)

	// A nonce, from a 401 to an unauthenticated request on another socket.
	probe, err := net.DialUDP("udp4", nil, server)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	unauth := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	if _, err := probe.Write(unauth.Raw); err != nil {
		t.Fatal(err)
	}
	_ = probe.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, err := probe.Read(buf)
	if err != nil {
		t.Fatalf("no 401 from the relay: %v", err)
	}
	resp := &stun.Message{Raw: buf[:n]}
	var nonce stun.Nonce
	if err := resp.Decode(); err != nil || nonce.GetFrom(resp) != nil {
		t.Fatalf("401 without a nonce: %v", err)
	}

	bind := func(peer net.Addr, channel uint16) {
		t.Helper()
		ua := peer.(*net.UDPAddr)
		m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
			rawAttr{stun.AttrChannelNumber, []byte{byte(channel >> 8), byte(channel), 0, 0}},
			xorPeer{&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}},
			stun.NewUsername(testUser), stun.NewRealm(DefaultRealm), nonce,
			stun.NewLongTermIntegrity(testUser, DefaultRealm, testPass))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ca.client.WriteTo(m.Raw, server); err != nil {
			t.Fatal(err)
		}
	}
	svc := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8079}
	bind(svc, 0x4001)
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().RefusedPermission == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Stats().RefusedPermission; got != 1 {
		t.Fatalf("ChannelBind to %v: RefusedPermission = %d, want 1", svc, got)
	}
	rc := s.table.lookup(a.LocalAddr().(*net.UDPAddr).AddrPort())
	if len(*rc.channels.Load()) != 0 {
		t.Fatalf("a channel was bound after the refused ChannelBind: %v", *rc.channels.Load())
	}
	bind(b.LocalAddr(), 0x4002)
	waitChannel(t, s, a, b)
}

// rawAttr and xorPeer add attributes to a STUN message under construction.
type rawAttr struct {
	typ stun.AttrType
	val []byte
}

func (r rawAttr) AddTo(m *stun.Message) error {
	m.Add(r.typ, r.val)
	return nil
}

type xorPeer struct{ *stun.XORMappedAddress }

func (x xorPeer) AddTo(m *stun.Message) error { return x.AddToAs(m, stun.AttrXORPeerAddress) }

// TestSocketBuffersSizedForVideo checks the listeners got 4 MiB buffers: as
// root through SO_RCVBUFFORCE/SO_SNDBUFFORCE, otherwise as much as
// net.core.rmem_max/wmem_max allow.
func TestSocketBuffersSizedForVideo(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.Stats()
	wantRcv, wantSnd := DefaultSocketBuffer, DefaultSocketBuffer
	if os.Geteuid() != 0 {
		wantRcv = min(wantRcv, sysctlInt(t, "/proc/sys/net/core/rmem_max"))
		wantSnd = min(wantSnd, sysctlInt(t, "/proc/sys/net/core/wmem_max"))
	}
	if st.RecvBuffer < wantRcv || st.SendBuffer < wantSnd {
		t.Fatalf("buffers rcv %d snd %d, want at least %d and %d (uid %d)",
			st.RecvBuffer, st.SendBuffer, wantRcv, wantSnd, os.Geteuid())
	}
}

func sysctlInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// TestVanishedClientAllocationExpires checks that an allocation whose client
// disappears without deallocating (phone asleep, Wi-Fi lost) ends after its
// lifetime and gives back its per-client slot.
func TestVanishedClientAllocationExpires(t *testing.T) {
	cfg := testConfig()
	cfg.AllocationLifetime = time.Second
	cfg.MaxAllocationsPerClient = 1
	s := startRelay(t, cfg)
	c := newTURNClient(t, s.Addr(), loopback, testUser, testPass)
	c.allocate(t)
	if got := s.Stats().Allocations; got != 1 {
		t.Fatalf("Allocations = %d, want 1", got)
	}
	_ = c.conn.Close() // vanish: no Refresh, no deallocation
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Allocations != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.Stats().Allocations; got != 0 {
		t.Fatalf("Allocations = %d 5 s after the client vanished with a 1 s lifetime", got)
	}
	newTURNClient(t, s.Addr(), loopback, testUser, testPass).allocate(t)
}
