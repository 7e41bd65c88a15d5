package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/stun/v4"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

func clientCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// stunCheck sends one Binding request signed with pwd and reports whether a
// verified success came back.
func stunCheck(t testing.TB, c *net.UDPConn, to *net.UDPAddr, user, pwd string) bool {
	t.Helper()
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(user),
		stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(req.Raw, to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return false
	}
	resp := &stun.Message{Raw: buf[:n]}
	if resp.Decode() != nil || resp.Type != stun.BindingSuccess || resp.TransactionID != req.TransactionID {
		return false
	}
	if stun.NewShortTermIntegrity(pwd).Check(resp) != nil {
		t.Fatal("response integrity does not verify")
	}
	var mapped stun.XORMappedAddress
	if err := mapped.GetFrom(resp); err != nil || mapped.Port != c.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("XOR-MAPPED-ADDRESS %v (%v)", mapped, err)
	}
	return true
}

// dtlsHandshake runs a DTLS client over c towards the hub and returns the
// SHA-256 of the certificate the hub presented.
func dtlsHandshake(t testing.TB, c *net.UDPConn, to *net.UDPAddr, timeout time.Duration) ([32]byte, error) {
	t.Helper()
	conn, err := dtls.ClientWithOptions(c, to,
		dtls.WithCertificates(clientCert(t)),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
	)
	if err != nil {
		return [32]byte{}, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		return [32]byte{}, err
	}
	st, _ := conn.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		t.Fatal("no server certificate")
	}
	return sha256.Sum256(st.PeerCertificates[0]), nil
}

func udpClient(t testing.TB) *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDTLSNeedsSTUNCheckAndPresentsTheDialledIdentity(t *testing.T) {
	h := startHub(t, nil)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())

	c := udpClient(t)
	if _, err := dtlsHandshake(t, c, to, 1500*time.Millisecond); err == nil {
		t.Fatal("DTLS handshake without a prior STUN check succeeded")
	}
	if h.Stats().Drops[dropUnchecked] == 0 {
		t.Fatal("DTLS from an unchecked address not counted")
	}
	if stunCheck(t, udpClient(t), to, "WRONG:x", h.device.Pwd) {
		t.Fatal("unknown ufrag answered")
	}
	if stunCheck(t, udpClient(t), to, h.device.Ufrag+":x", "wrong-password-wrong-password") {
		t.Fatal("wrong pwd answered")
	}

	for _, id := range []*galaxy.Identity{h.device, h.discovery} {
		c := udpClient(t)
		if !stunCheck(t, c, to, id.Ufrag+":client", id.Pwd) {
			t.Fatalf("%s identity: valid STUN check not answered", id.Name)
		}
		fp, err := dtlsHandshake(t, c, to, 5*time.Second)
		if err != nil {
			t.Fatalf("%s identity: DTLS after STUN check: %v", id.Name, err)
		}
		if fp != id.Fingerprint {
			t.Fatalf("%s identity: hub presented another certificate", id.Name)
		}
	}
}

func TestGarbageUDPDoesNotDisturbSessions(t *testing.T) {
	h := startHub(t, nil)
	a, b := joinedPair(t, h.blob)
	to := net.UDPAddrFromAddrPort(h.LocalAddr())

	stranger := udpClient(t)
	checked := udpClient(t) // passes a STUN check, then sends junk DTLS
	if !stunCheck(t, checked, to, h.device.Ufrag+":x", h.device.Pwd) {
		t.Fatal("STUN check failed")
	}
	valid, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(h.device.Ufrag+":x"),
		stun.NewShortTermIntegrity(h.device.Pwd), stun.Fingerprint)
	junk := [][]byte{
		{}, {0}, {0xff, 0xff}, valid.Raw[:20], valid.Raw[:len(valid.Raw)-3],
		append([]byte{22, 0xfe, 0xfd}, make([]byte, 10)...),        // truncated DTLS record
		append([]byte{23, 0xfe, 0xfd, 0, 1}, make([]byte, 200)...), // application data from a stranger
		append([]byte{20, 0xfe, 0xfd}, make([]byte, 3000)...),
	}
	for i := 0; i < 200; i++ {
		p := make([]byte, 1+i*7%1400)
		rand.Read(p)
		junk = append(junk, p)
	}
	for round := 0; round < 3; round++ {
		for _, p := range junk {
			stranger.WriteToUDP(p, to)
			checked.WriteToUDP(p, to)
		}
		if err := a.Send(b.ID(), round); err != nil {
			t.Fatal(err)
		}
		if f := recvFrame(t, b); f.ID != a.ID() {
			t.Fatalf("frame after garbage: %s", f.Raw)
		}
	}
	waitPeers(t, b, sorted(a.ID(), b.ID()))
	if _, err := a.Echo(ctxT(t, 5*time.Second), "still here"); err != nil {
		t.Fatal(err)
	}
	d := h.Stats().Drops
	if d[dropUnchecked] == 0 || d[dropSTUNMalformed]+d[dropUnknownPacket] == 0 {
		t.Fatalf("garbage not counted: %v", d)
	}
}

func TestBurstIsDeliveredAndSenderSurvives(t *testing.T) {
	h := startHub(t, nil)
	a, b := joinedPair(t, h.blob, hubclient.WithRecvBuffer(20000))
	const n = 10000
	pad := strings.Repeat("x", 60)
	for i := 0; i < n; i++ {
		if err := a.Send(b.ID(), map[string]any{"i": i, "p": pad}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := 0; i < n; i++ {
		f, err := b.Recv(ctxT(t, 10*time.Second))
		if err != nil {
			t.Fatalf("received %d of %d: %v (hub drops %v)", i, n, err, h.Stats().Drops)
		}
		if want := `{"i":` + itoa(i) + `,`; !strings.HasPrefix(string(f.Payload), want) {
			t.Fatalf("frame %d out of order: %.40s", i, f.Payload)
		}
	}
	if _, err := a.Echo(ctxT(t, 5*time.Second), 1); err != nil {
		t.Fatalf("sender dead after burst: %v", err)
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestFrameSizeLimits(t *testing.T) {
	h := startHub(t, nil)
	a, b := joinedPair(t, h.blob)
	// A frame of exactly the advertised 256 KiB is delivered.
	prefix := `{"t":"to","id":` + itoa(int(b.ID())) + `,"payload":"`
	big := prefix + strings.Repeat("z", 256<<10-len(prefix)-2) + `"}`
	if len(big) != 256<<10 {
		t.Fatalf("test frame is %d bytes", len(big))
	}
	if err := a.SendRaw([]byte(big), false); err != nil {
		t.Fatal(err)
	}
	f, err := b.Recv(ctxT(t, 10*time.Second))
	if err != nil || len(f.Payload) != 256<<10-len(prefix)-1+1 {
		t.Fatalf("256 KiB frame: payload %d bytes, %v", len(f.Payload), err)
	}

	// With a smaller limit a larger frame is dropped and counted, and the
	// sender's session lives on.
	h2 := startHub(t, func(c *Config) { c.Limits.MaxFrame = 64 << 10 })
	c := dial(t, h2.blob)
	if err := c.SendRaw([]byte(`{"t":"echo","x":"`+strings.Repeat("y", 100<<10)+`"}`), false); err != nil {
		t.Fatal(err)
	}
	if x, err := c.Echo(ctxT(t, 5*time.Second), "ok"); err != nil || string(x) != `"ok"` {
		t.Fatalf("session after an oversize frame: %s %v", x, err)
	}
	if h2.Stats().Drops[dropOversize] != 1 {
		t.Fatalf("oversize drops %d, want 1", h2.Stats().Drops[dropOversize])
	}
}

func TestStuckReceiverLosesOnlyItsOwnFramesAndIsDisconnected(t *testing.T) {
	h := startHub(t, func(c *Config) {
		c.Limits.IdleTimeout = time.Minute // only the stuck rule may end it
		c.Limits.SendQueueBytes = 64 << 10
		c.Limits.StuckAfter = 2 * time.Second
	})
	a := dial(t, h.blob)
	stuck := dial(t, h.blob)
	c := dial(t, h.blob, hubclient.WithRecvBuffer(1000))
	for _, x := range []*hubclient.Client{a, stuck, c} {
		x.Join("r")
	}
	waitPeers(t, a, sorted(a.ID(), stuck.ID(), c.ID()))
	stuck.Vanish() // stops reading and acking, but its session stays
	chunk := strings.Repeat("s", 8000)
	const n = 400
	for i := 0; i < n; i++ {
		a.Send(stuck.ID(), chunk)
		if err := a.Send(c.ID(), i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		f := recvFrame(t, c)
		if string(f.Payload) != itoa(i) {
			t.Fatalf("c got %s, want %d", f.Payload, i)
		}
	}
	if h.Stats().Drops[dropQueueFull] == 0 {
		t.Fatal("no queue_full drops for the stuck receiver")
	}
	// The stuck receiver is cut off and the room hears bye.
	f, err := c.Recv(ctxT(t, 10*time.Second))
	if err != nil || f.ID != stuck.ID() || string(f.Payload) != `{"k":"bye"}` {
		t.Fatalf("want bye from %d, got %s %v", stuck.ID(), f.Raw, err)
	}
	if h.Stats().Drops[dropStuck] != 1 {
		t.Fatalf("stuck disconnects %d, want 1", h.Stats().Drops[dropStuck])
	}
	if _, err := a.Echo(ctxT(t, 5*time.Second), 1); err != nil {
		t.Fatalf("sender hurt by a stuck receiver: %v", err)
	}
}

func TestIDsNeverRepeatAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	var last int64
	for run := 0; run < 2; run++ {
		h := startHub(t, func(c *Config) { c.StateDir = dir })
		a := dial(t, h.blob)
		if a.ID() <= last {
			t.Fatalf("run %d: id %d not above the previous run's %d", run, a.ID(), last)
		}
		last = a.ID()
		a.Close()
	}
}

func TestPeersRequestsAreThrottledNotDropped(t *testing.T) {
	h := startHub(t, func(c *Config) { c.Limits.PeersRate, c.Limits.PeersBurst = 10, 5 })
	a := dial(t, h.blob)
	const n = 15
	start := time.Now()
	for i := 0; i < n; i++ {
		if ids := peersOf(t, a); len(ids) != 1 {
			t.Fatalf("peers %v", ids)
		}
	}
	// 5 at once, then 10 more at 10/s: about a second, never an error.
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Fatalf("%d peers requests took %v; the limit did not apply", n, el)
	}
	if _, err := a.Echo(ctxT(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
}
