package hub

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/stun/v4"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

// udpFrom binds a UDP socket on ip (any port).
func udpFrom(t testing.TB, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkRequest is a Binding request as an ICE agent sends it, signed for ident.
func checkRequest(t testing.TB, ident *galaxy.Identity) []byte {
	t.Helper()
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(ident.Ufrag+":attackerufrag"),
		stun.NewShortTermIntegrity(ident.Pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return req.Raw
}

// clientHello captures the first flight of a pion DTLS client (a
// ClientHello without cookie) by pointing it at a socket that never answers.
func clientHello(t testing.TB) []byte {
	t.Helper()
	sink := udpFrom(t, "127.0.0.1")
	defer sink.Close()
	c := udpFrom(t, "127.0.0.1")
	defer c.Close()
	conn, err := dtls.ClientWithOptions(c, sink.LocalAddr(),
		dtls.WithCertificates(clientCert(t)), dtls.WithInsecureSkipVerify(true),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn.HandshakeContext(ctx)
		conn.Close()
	}()
	buf := make([]byte, 2048)
	sink.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := sink.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no ClientHello: %v", err)
	}
	return buf[:n]
}

// checkedTotal counts the checked addresses of ip.
func (h *Hub) checkedOf(ip string) (checked, remotes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.byIP[netip.MustParseAddr(ip)]; st != nil {
		return len(st.checked), len(st.remotes)
	}
	return 0, 0
}

// The lockout: one guest (127.0.0.2) passes STUN checks from 10,000
// source ports with the public discovery credentials, and some of them
// start DTLS. A new guest on 127.0.0.1 still gets a session, and the
// flooder holds no more than its per-IP share.
func TestSTUNFloodFromOneIPCannotLockOutANewGuest(t *testing.T) {
	h := startHub(t, nil)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())
	req := checkRequest(t, h.discovery)
	hello := clientHello(t)
	answered := 0
	for batch := 0; batch < 20; batch++ {
		conns := make([]*net.UDPConn, 500)
		for i := range conns {
			conns[i] = udpFrom(t, "127.0.0.2")
			conns[i].WriteToUDP(req, to)
			if i%25 == 0 {
				conns[i].WriteToUDP(hello, to)
			}
		}
		buf := make([]byte, 1500)
		for _, c := range conns[len(conns)-5:] {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := c.ReadFromUDP(buf); err == nil {
				answered++
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if answered == 0 {
		t.Fatal("the flood's latest checks were not answered (per-IP eviction should make room)")
	}
	c := dial(t, h.discBlob)
	if _, err := c.Echo(ctxT(t, 5*time.Second), "after flood"); err != nil {
		t.Fatal(err)
	}
	lim := h.lim
	checked, remotes := h.checkedOf("127.0.0.2")
	if checked > lim.MaxCheckedPerIP || remotes > lim.MaxRemotesPerIP {
		t.Fatalf("flooder holds %d checks and %d remotes, caps %d and %d", checked, remotes, lim.MaxCheckedPerIP, lim.MaxRemotesPerIP)
	}
	d := h.Stats().Drops
	if d[dropCheckedEvicted] < 9000 || d[dropHandshakeRate]+d[dropRemoteEvicted] == 0 {
		t.Fatalf("flood not counted: %v", d)
	}
}

// A check the hub cannot record (hub-wide table full) is not answered:
// an answer would start a handshake that the hub then drops.
func TestUnrecordedCheckIsNotAnswered(t *testing.T) {
	h := startHub(t, func(c *Config) { c.Limits.MaxChecked = 3 })
	to := net.UDPAddrFromAddrPort(h.LocalAddr())
	user := h.device.Ufrag + ":someoneelse"
	for i := 0; i < 3; i++ {
		if !stunCheck(t, udpClient(t), to, user, h.device.Pwd) {
			t.Fatalf("check %d not answered", i)
		}
	}
	if stunCheck(t, udpClient(t), to, user, h.device.Pwd) {
		t.Fatal("check answered although the table is full")
	}
	if h.Stats().Drops[dropTooManyChecked] != 1 {
		t.Fatalf("drops %v", h.Stats().Drops)
	}
}

// A check with a forged source gets no more bytes back than it carried:
// the smallest valid request (no FINGERPRINT, one-byte ufrag pair) is
// shorter than the success response, so it is not answered.
func TestSTUNResponseNeverLargerThanRequest(t *testing.T) {
	h := startHub(t, nil)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())
	c := udpClient(t)
	small, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(h.device.Ufrag+":"), stun.NewShortTermIntegrity(h.device.Pwd))
	if err != nil {
		t.Fatal(err)
	}
	c.WriteToUDP(small.Raw, to)
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, _, err := c.ReadFromUDP(buf); err == nil {
		t.Fatalf("a %d-byte check got a %d-byte answer", len(small.Raw), n)
	}
	if h.Stats().Drops[dropSTUNAmplify] != 1 {
		t.Fatalf("drops %v", h.Stats().Drops)
	}
	// A normal check (longer USERNAME, FINGERPRINT) is answered.
	if !stunCheck(t, c, to, h.device.Ufrag+":abcdefgh", h.device.Pwd) {
		t.Fatal("normal check not answered")
	}
}

// After a check (which a forged source can pass), a ClientHello without a
// cookie gets only a HelloVerifyRequest, never the certificate flight.
func TestClientHelloWithoutCookieIsNotAmplified(t *testing.T) {
	h := startHub(t, nil)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())
	c := udpClient(t)
	if !stunCheck(t, c, to, h.device.Ufrag+":abcdefgh", h.device.Pwd) {
		t.Fatal("check not answered")
	}
	hello := clientHello(t)
	sent, got := 0, 0
	buf := make([]byte, 65536)
	for i := 0; i < 3; i++ { // the original and two retransmissions
		c.WriteToUDP(hello, to)
		sent += len(hello)
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break
			}
			got += n
		}
	}
	if got == 0 {
		t.Fatal("no HelloVerifyRequest")
	}
	if got > sent {
		t.Fatalf("sent %d bytes of ClientHello, got %d back", sent, got)
	}
}

// One IP starting handshakes from many checked ports holds at most
// MaxRemotesPerIP of them and is rate-limited; another IP is unaffected.
func TestHandshakesPerIPAreCappedAndRateLimited(t *testing.T) {
	h := startHub(t, nil)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())
	req := checkRequest(t, h.discovery)
	hello := clientHello(t)
	var conns []*net.UDPConn
	for i := 0; i < 40; i++ {
		c := udpFrom(t, "127.0.0.2")
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
		c.WriteToUDP(req, to)
		c.SetReadDeadline(time.Now().Add(time.Second))
		c.ReadFromUDP(make([]byte, 1500))
	}
	for _, c := range conns {
		c.WriteToUDP(hello, to)
	}
	time.Sleep(200 * time.Millisecond) // let the read loop take them
	_, remotes := h.checkedOf("127.0.0.2")
	if remotes > h.lim.MaxRemotesPerIP {
		t.Fatalf("%d handshakes from one IP, cap %d", remotes, h.lim.MaxRemotesPerIP)
	}
	d := h.Stats().Drops
	if d[dropHandshakeRate] == 0 {
		t.Fatalf("40 handshakes at once were not rate-limited: %v", d)
	}
	a, b := joinedPair(t, h.blob)
	if err := a.Send(b.ID(), "hi"); err != nil {
		t.Fatal(err)
	}
	recvFrame(t, b)
}

// Receivers that stop acknowledging cannot make the hub hold more than its
// send budget (plus each session's small reserve), and a normal session
// still gets its frames.
func TestSlowReceiversStayWithinTheSendBudget(t *testing.T) {
	const budget, reserve = 512 << 10, 32 << 10
	h := startHub(t, func(c *Config) {
		c.Limits.IdleTimeout = time.Minute // only the budget is under test
		c.Limits.StuckAfter = time.Minute
		c.Limits.SendBudgetBytes = budget
		c.Limits.SendReserveBytes = reserve
	})
	sender := dial(t, h.blob)
	sender.Join("r")
	var slow []int64
	var slowClients []*hubclient.Client
	for i := 0; i < 4; i++ {
		c := dial(t, h.blob)
		c.Join("r")
		slow = append(slow, c.ID())
		slowClients = append(slowClients, c)
	}
	normal := dial(t, h.blob)
	normal.Join("r")
	waitPeers(t, normal, sorted(append([]int64{sender.ID(), normal.ID()}, slow...)...))
	for _, c := range slowClients {
		c.Vanish() // stops reading and acknowledging
	}
	payload := strings.Repeat("x", 16<<10)
	for i := 0; i < 100; i++ {
		for _, id := range slow {
			if err := sender.Send(id, payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The sender's frames are read in order; an echo behind them means
	// all were routed.
	if _, err := sender.Echo(ctxT(t, 10*time.Second), "done"); err != nil {
		t.Fatal(err)
	}
	bound := int64(budget + 5*(reserve+len(payload)+frameOverhead))
	if held := h.sendHeld.Load(); held > bound {
		t.Fatalf("hub holds %d bytes for sending, bound %d", held, bound)
	}
	if h.Stats().Drops[dropSendBudget] == 0 {
		t.Fatalf("6.4 MiB for stalled receivers fit a 512 KiB budget? %v", h.Stats().Drops)
	}
	if err := sender.Send(normal.ID(), "still routed"); err != nil {
		t.Fatal(err)
	}
	if f := recvFrame(t, normal); f.ID != sender.ID() {
		t.Fatalf("normal receiver got %s", f.Raw)
	}
	// Everything held comes back when the sessions end.
	h.mu.Lock()
	var all []*remote
	for _, r := range h.remotes {
		all = append(all, r)
	}
	h.mu.Unlock()
	for _, r := range all {
		r.close("test over") // vanished clients would only go after IdleTimeout
	}
	for i := 0; i < 100 && (h.Stats().Remotes > 0 || h.sendHeld.Load() != 0 || h.inboundHeld.Load() != 0); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if st := h.Stats(); st.Remotes > 0 || h.sendHeld.Load() != 0 || h.inboundHeld.Load() != 0 {
		t.Fatalf("after close: %d remotes, send budget %d, inbound %d", st.Remotes, h.sendHeld.Load(), h.inboundHeld.Load())
	}
}

// A join with a room name the hub does not accept is answered with an
// error frame, and the session stays in its room.
func TestBadRoomNameIsRefusedClearly(t *testing.T) {
	h := startHub(t, nil)
	a, b := joinedPair(t, h.blob)
	for _, room := range []string{strings.Repeat("<", 65), "tab\there", strings.Repeat("é", 33)} {
		if err := a.Join(room); err != nil {
			t.Fatal(err)
		}
		f := recvFrame(t, a)
		var e struct{ T, For, Error string }
		if json.Unmarshal(f.Raw, &e) != nil || e.T != "error" || e.For != "join" || !strings.Contains(e.Error, "room name") {
			t.Fatalf("join %q answered with %s", room, f.Raw)
		}
	}
	waitPeers(t, b, sorted(a.ID(), b.ID()))
	if got := h.Stats().Drops[dropRoomName]; got != 3 {
		t.Fatalf("bad_room_name = %d", got)
	}
	// The longest accepted name works.
	long := strings.Repeat("é", 32)
	a.Join(long)
	b.Join(long)
	waitPeers(t, a, sorted(a.ID(), b.ID()))
}

// Stats lists only the biggest rooms, so /status stays small with 700
// sessions in 700 rooms of the longest names.
func TestStatsListsTheBiggestRoomsOnly(t *testing.T) {
	h := startHub(t, nil)
	rt := h.router
	for i := 0; i < 700; i++ {
		s := &session{id: int64(i + 1)}
		rt.add(s)
		name := strings.Repeat("<", galaxy.MaxRoomBytes-4) + itoa(1000+i)
		if i < 3 {
			name = "big" + itoa(i)
		}
		rt.join(s, name)
	}
	for i := 0; i < 3; i++ { // rooms big0..big2 get more members
		for j := 0; j <= i+1; j++ {
			s := &session{id: int64(10000 + 10*i + j)}
			rt.add(s)
			rt.join(s, "big"+itoa(i))
		}
	}
	st := h.Stats()
	if len(st.Rooms) != h.lim.StatusRooms || st.OtherRooms != 700-h.lim.StatusRooms || st.RoomCount != 700 {
		t.Fatalf("%d rooms listed, %d others, %d in all", len(st.Rooms), st.OtherRooms, st.RoomCount)
	}
	if st.Rooms[0].Name != "big2" || st.Rooms[0].Members != 5 || st.Rooms[2].Name != "big0" {
		t.Fatalf("biggest rooms first: %+v", st.Rooms[:3])
	}
	if st.InCall != 709 {
		t.Fatalf("in call %d", st.InCall)
	}
	doc, _ := json.Marshal(st.Rooms)
	if len(doc) > 16<<10 {
		t.Fatalf("room list is %d bytes of JSON", len(doc))
	}
}

// This machine's own address (the laptop's browsers, hubprobe's 200
// sessions) is not held to the per-IP caps; 127.0.0.2 is (see above).
func TestOwnAddressIsNotCappedPerIP(t *testing.T) {
	h := startHub(t, func(c *Config) { c.Limits.MaxRemotesPerIP = 2 })
	var cs []*hubclient.Client
	for i := 0; i < 4; i++ {
		c := dial(t, h.blob)
		c.Join("r")
		cs = append(cs, c)
	}
	if _, err := cs[0].Echo(ctxT(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Sessions != 4 || st.Drops[dropRemoteEvicted] != 0 {
		t.Fatalf("%d sessions, %d evicted", st.Sessions, st.Drops[dropRemoteEvicted])
	}
}
