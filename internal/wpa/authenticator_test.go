package wpa

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"sync"
	"testing"
	"time"
)

// radio is a Port that connects the authenticator to test supplicants in
// memory and records the key and station commands.
type radio struct {
	mu         sync.Mutex
	sups       map[string]*supplicant
	auth       *Authenticator
	installed  map[string][]byte
	authorized map[string]bool
	deauth     map[string]uint16
	sent       map[string]int
}

func newRadio() *radio {
	return &radio{sups: map[string]*supplicant{}, installed: map[string][]byte{}, authorized: map[string]bool{}, deauth: map[string]uint16{}, sent: map[string]int{}}
}

func (r *radio) SendEAPOL(sta net.HardwareAddr, frame []byte) error {
	r.mu.Lock()
	s := r.sups[sta.String()]
	r.sent[sta.String()]++
	silent := s != nil && s.silent
	r.mu.Unlock()
	if s != nil && !silent {
		// Deliver asynchronously, as a radio would.
		go func() {
			if reply := s.handle(frame); reply != nil {
				r.auth.Receive(sta, reply)
			}
		}()
	}
	return nil
}

func (r *radio) InstallPairwiseKey(sta net.HardwareAddr, tk []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.installed[sta.String()] = bytes.Clone(tk)
	return nil
}

func (r *radio) Authorize(sta net.HardwareAddr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authorized[sta.String()] = true
	return nil
}

func (r *radio) Deauthenticate(sta net.HardwareAddr, reason uint16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deauth[sta.String()] = reason
	return nil
}

// supplicant is the station side of the 4-way handshake, written from the
// standard for these tests; the VM test runs the real wpa_supplicant.
type supplicant struct {
	addr, bssid net.HardwareAddr
	pmk         []byte
	silent      bool // under radio.mu

	mu     sync.Mutex
	snonce [32]byte
	ptk    PTK
	gtk    []byte
}

func (s *supplicant) handle(b []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := Parse(b)
	if err != nil {
		return nil
	}
	switch {
	case f.Info&KeyInfoPairwise != 0 && f.Info&KeyInfoMIC == 0: // message 1
		rand.Read(s.snonce[:])
		s.ptk = DerivePTK(s.pmk, s.bssid, s.addr, f.Nonce[:], s.snonce[:])
		m2 := KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoMIC, ReplayCounter: f.ReplayCounter, Nonce: s.snonce, Data: RSNE()}
		return sign(s.ptk.KCK, &m2)
	case f.Info&KeyInfoPairwise != 0: // message 3
		if !verifyMIC(s.ptk.KCK, b, f) {
			return nil
		}
		data, err := KeyUnwrap(s.ptk.KEK, f.Data)
		if err != nil {
			return nil
		}
		s.gtk = gtkFrom(data)
		m4 := KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoMIC | KeyInfoSecure, ReplayCounter: f.ReplayCounter}
		return sign(s.ptk.KCK, &m4)
	default: // group message 1
		if !verifyMIC(s.ptk.KCK, b, f) {
			return nil
		}
		data, err := KeyUnwrap(s.ptk.KEK, f.Data)
		if err != nil {
			return nil
		}
		s.gtk = gtkFrom(data)
		g2 := KeyFrame{Info: KeyInfoVersion2 | KeyInfoMIC | KeyInfoSecure, ReplayCounter: f.ReplayCounter}
		return sign(s.ptk.KCK, &g2)
	}
}

func gtkFrom(data []byte) []byte {
	for len(data) >= 2 {
		n := int(data[1])
		if 2+n > len(data) {
			return nil
		}
		if data[0] == 0xdd && n >= 6 && bytes.Equal(data[2:6], []byte{0, 0x0f, 0xac, 1}) {
			return bytes.Clone(data[8 : 2+n])
		}
		data = data[2+n:]
	}
	return nil
}

type fixture struct {
	radio    *radio
	auth     *Authenticator
	pmk, gtk []byte
	bssid    net.HardwareAddr
	failures chan string
	done     chan string
}

func newFixture(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	pmk, _ := PSK("correct horse", []byte("Kibitz-TEST"))
	fx := &fixture{
		radio: newRadio(), pmk: pmk, gtk: bytes.Repeat([]byte{0x47}, 16),
		bssid:    net.HardwareAddr{2, 0, 0, 0, 1, 0},
		failures: make(chan string, 16), done: make(chan string, 16),
	}
	a, err := NewAuthenticator(Config{
		BSSID: fx.bssid, PMK: pmk, GTK: fx.gtk, GTKIndex: 1, Timeout: timeout,
		OnFailure:  func(sta net.HardwareAddr, why string) { fx.failures <- sta.String() + " " + why },
		OnComplete: func(sta net.HardwareAddr) { fx.done <- sta.String() },
	}, fx.radio)
	if err != nil {
		t.Fatal(err)
	}
	fx.auth, fx.radio.auth = a, a
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Run(ctx)
	return fx
}

func (fx *fixture) station(n byte, passphrase string) *supplicant {
	pmk, _ := PSK(passphrase, []byte("Kibitz-TEST"))
	s := &supplicant{addr: net.HardwareAddr{2, 0, 0, 0, 0, n}, bssid: fx.bssid, pmk: pmk}
	fx.radio.mu.Lock()
	fx.radio.sups[s.addr.String()] = s
	fx.radio.mu.Unlock()
	return s
}

func wait(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
}

func TestHandshakeRightPassphrase(t *testing.T) {
	fx := newFixture(t, time.Second)
	s := fx.station(1, "correct horse")
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	if got := wait(t, fx.done, "completion"); got != s.addr.String() {
		t.Fatalf("completed %s, want %s", got, s.addr)
	}
	fx.radio.mu.Lock()
	defer fx.radio.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !bytes.Equal(fx.radio.installed[s.addr.String()], s.ptk.TK) {
		t.Error("installed TK differs from the station's TK")
	}
	if !fx.radio.authorized[s.addr.String()] {
		t.Error("station not authorized after message 4")
	}
	if !bytes.Equal(s.gtk, fx.gtk) {
		t.Errorf("station got GTK %x, want %x", s.gtk, fx.gtk)
	}
}

func TestHandshakeWrongPassphrase(t *testing.T) {
	fx := newFixture(t, time.Second)
	s := fx.station(2, "wrong horse!")
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	if got := wait(t, fx.failures, "failure"); got != s.addr.String()+" wrong passphrase" {
		t.Fatalf("failure = %q", got)
	}
	fx.radio.mu.Lock()
	defer fx.radio.mu.Unlock()
	if fx.radio.authorized[s.addr.String()] || fx.radio.installed[s.addr.String()] != nil {
		t.Error("a station with the wrong passphrase got keys or authorization")
	}
	if fx.radio.deauth[s.addr.String()] != ReasonHandshakeTimeout {
		t.Errorf("deauth reason = %d", fx.radio.deauth[s.addr.String()])
	}
	// Each message 2 was dropped and message 1 resent, as hostapd does;
	// only the last timeout ended the handshake.
	if n := fx.radio.sent[s.addr.String()]; n != 4 {
		t.Errorf("message 1 sent %d times, want 4", n)
	}
	if n := fx.auth.BadMIC(); n != 4 {
		t.Errorf("BadMIC = %d, want 4", n)
	}
}

// Issue 13 item 6: a forged message 2 (bad MIC, right replay counter) is
// dropped and counted; it neither deauthenticates the station nor stops
// its handshake, which completes with the real message 2.
func TestForgedMessage2DroppedNotDeauth(t *testing.T) {
	fx := newFixture(t, 300*time.Millisecond)
	s := fx.station(8, "correct horse")
	fx.radio.mu.Lock()
	s.silent = true
	fx.radio.mu.Unlock()
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	for fx.sentTo(s.addr) == 0 {
		time.Sleep(time.Millisecond)
	}
	// The attacker saw message 1 (replay counter 1) over the air and
	// answers first, without the PMK.
	var nonce [32]byte
	rand.Read(nonce[:])
	forged := KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoMIC, ReplayCounter: 1, Nonce: nonce, Data: RSNE()}
	fx.auth.Receive(s.addr, sign(bytes.Repeat([]byte{0x66}, 16), &forged))
	for fx.auth.BadMIC() == 0 {
		time.Sleep(time.Millisecond)
	}
	fx.radio.mu.Lock()
	_, kicked := fx.radio.deauth[s.addr.String()]
	s.silent = false // the real station answers the resent message 1
	fx.radio.mu.Unlock()
	if kicked {
		t.Fatal("a forged message 2 deauthenticated the station")
	}
	if got := wait(t, fx.done, "completion after the forged message 2"); got != s.addr.String() {
		t.Fatalf("completed %s", got)
	}
	select {
	case f := <-fx.failures:
		t.Fatalf("failure %q", f)
	default:
	}
	fx.radio.mu.Lock()
	defer fx.radio.mu.Unlock()
	if _, kicked := fx.radio.deauth[s.addr.String()]; kicked || !fx.radio.authorized[s.addr.String()] {
		t.Errorf("deauthenticated %v, authorized %v; want authorized only", kicked, fx.radio.authorized[s.addr.String()])
	}
	if n := fx.auth.BadMIC(); n != 1 {
		t.Errorf("BadMIC = %d, want 1", n)
	}
}

func (fx *fixture) sentTo(sta net.HardwareAddr) int {
	fx.radio.mu.Lock()
	defer fx.radio.mu.Unlock()
	return fx.radio.sent[sta.String()]
}

func TestHandshakeTimeoutRetries(t *testing.T) {
	fx := newFixture(t, 20*time.Millisecond)
	s := fx.station(3, "correct horse")
	fx.radio.mu.Lock()
	s.silent = true
	fx.radio.mu.Unlock()
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	if got := wait(t, fx.failures, "timeout"); got != s.addr.String()+" handshake timeout" {
		t.Fatalf("failure = %q", got)
	}
	fx.radio.mu.Lock()
	defer fx.radio.mu.Unlock()
	if n := fx.radio.sent[s.addr.String()]; n != 4 {
		t.Errorf("message 1 sent %d times, want 4", n)
	}
}

func TestFloodDoesNotStarveOthers(t *testing.T) {
	fx := newFixture(t, time.Second)
	flooder := fx.station(4, "correct horse")
	fx.radio.mu.Lock()
	flooder.silent = true
	fx.radio.mu.Unlock()
	fx.auth.Associated(context.Background(), flooder.addr, RSNE())
	junk := (&KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoMIC, ReplayCounter: 99}).Marshal()
	stop, flooding := make(chan struct{}), make(chan struct{})
	go func() {
		for i := 0; i < 200000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fx.auth.Receive(flooder.addr, junk)
			if i == 1000 {
				close(flooding)
			}
		}
	}()
	defer close(stop)
	<-flooding
	good := fx.station(5, "correct horse")
	fx.auth.Associated(context.Background(), good.addr, RSNE())
	if got := wait(t, fx.done, "the honest station"); got != good.addr.String() {
		t.Fatalf("completed %s", got)
	}
	if fx.auth.Dropped() == 0 {
		t.Error("no frames of the flood were dropped")
	}
}

func TestGroupRekey(t *testing.T) {
	fx := newFixture(t, time.Second)
	s := fx.station(6, "correct horse")
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	wait(t, fx.done, "completion")
	newGTK := bytes.Repeat([]byte{0x99}, 16)
	fx.auth.Rekey(context.Background(), newGTK, 2)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		got := bytes.Clone(s.gtk)
		s.mu.Unlock()
		if bytes.Equal(got, newGTK) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("station never received the new GTK")
}

func TestReplayedMessage2Ignored(t *testing.T) {
	fx := newFixture(t, time.Second)
	s := fx.station(7, "correct horse")
	fx.radio.mu.Lock()
	s.silent = true
	fx.radio.mu.Unlock()
	fx.auth.Associated(context.Background(), s.addr, RSNE())
	// A message 2 with a stale replay counter and a bad MIC must neither
	// advance nor fail the handshake.
	stale := (&KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoMIC, ReplayCounter: 0}).Marshal()
	fx.auth.Receive(s.addr, stale)
	select {
	case f := <-fx.failures:
		t.Fatalf("stale frame caused failure %q", f)
	case <-time.After(200 * time.Millisecond):
	}
}
