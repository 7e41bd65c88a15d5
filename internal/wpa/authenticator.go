package wpa

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kibitzbox/kibitzbox/internal/ratelog"
)

// Port is how the authenticator reaches the radio: the nl80211 control port
// (or an AF_PACKET socket) for EAPOL frames, and key and station commands.
type Port interface {
	SendEAPOL(sta net.HardwareAddr, frame []byte) error
	InstallPairwiseKey(sta net.HardwareAddr, tk []byte) error
	Authorize(sta net.HardwareAddr) error
	Deauthenticate(sta net.HardwareAddr, reason uint16) error
}

// IEEE 802.11 reason codes the authenticator sends.
const (
	ReasonHandshakeTimeout uint16 = 15
	ReasonIEMismatch       uint16 = 17
)

// Config configures an Authenticator.
type Config struct {
	BSSID    net.HardwareAddr
	PMK      []byte // 32 bytes, from PSK
	GTK      []byte // 16 bytes, CCMP group key, already installed by the caller
	GTKIndex int    // 1 or 2
	// Timeout per handshake message and Attempts per message; zero values
	// mean 1 s and 4, as hostapd and the standard's dot11RSNAConfig do.
	Timeout  time.Duration
	Attempts int
	// FramesPerSecond bounds EAPOL frames accepted from one station, so a
	// flooding station cannot starve the others. Zero means 20.
	FramesPerSecond float64
	Logger          *slog.Logger
	// OnFailure and OnComplete, if set, are called from the authenticator's
	// goroutine; they must not block.
	OnFailure  func(sta net.HardwareAddr, reason string)
	OnComplete func(sta net.HardwareAddr)
}

type phase int

const (
	awaitMsg2 phase = iota
	awaitMsg4
	established
	awaitGroupMsg2
)

type station struct {
	addr     net.HardwareAddr
	rsne     []byte
	anonce   [32]byte
	replay   uint64
	ptk      PTK
	phase    phase
	attempts int
	timer    *time.Timer
	gen      int // invalidates stale timers
	badMIC   int // message 2s with a bad MIC in this handshake
	gtkGen   int // the authenticator's gtkGen when message 3 or group message 1 went out
}

type event struct {
	kind  int
	sta   net.HardwareAddr
	rsne  []byte
	frame []byte
	gen   int
}

const (
	evAssoc = iota
	evDisassoc
	evFrame
	evTimeout
	evRekey
)

// Authenticator runs the 4-way and group key handshakes for every station
// of one AP. All state lives in Run's goroutine.
type Authenticator struct {
	cfg    Config
	port   Port
	events chan event
	log    *slog.Logger

	mu       sync.Mutex // guards limiters, dropped and badMIC
	limiters map[string]*rate.Limiter
	dropped  uint64
	badMIC   uint64
	limited  *ratelog.Logger

	stations map[string]*station
	gtkGen   int // counts group key changes (Rekey)
}

// NewAuthenticator checks cfg and returns an authenticator; call Run.
func NewAuthenticator(cfg Config, port Port) (*Authenticator, error) {
	if len(cfg.PMK) != 32 {
		return nil, fmt.Errorf("authenticator: PMK of %d bytes, want 32", len(cfg.PMK))
	}
	if len(cfg.GTK) != 16 {
		return nil, fmt.Errorf("authenticator: GTK of %d bytes, want 16", len(cfg.GTK))
	}
	if len(cfg.BSSID) != 6 {
		return nil, fmt.Errorf("authenticator: BSSID %v is not a MAC address", cfg.BSSID)
	}
	if cfg.GTKIndex < 1 || cfg.GTKIndex > 2 {
		cfg.GTKIndex = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.FramesPerSecond <= 0 {
		cfg.FramesPerSecond = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Authenticator{
		cfg:      cfg,
		port:     port,
		events:   make(chan event, 256),
		log:      cfg.Logger,
		limiters: map[string]*rate.Limiter{},
		limited:  ratelog.New(cfg.Logger, 10*time.Second, time.Now),
		stations: map[string]*station{},
	}, nil
}

// Associated starts the 4-way handshake with a station that has just
// associated; rsne is the RSN element from its association request.
func (a *Authenticator) Associated(ctx context.Context, sta net.HardwareAddr, rsne []byte) {
	a.post(ctx, event{kind: evAssoc, sta: clone(sta), rsne: bytes.Clone(rsne)})
}

// Disassociated forgets a station.
func (a *Authenticator) Disassociated(ctx context.Context, sta net.HardwareAddr) {
	a.post(ctx, event{kind: evDisassoc, sta: clone(sta)})
	a.mu.Lock()
	delete(a.limiters, sta.String())
	a.mu.Unlock()
}

// Rekey installs nothing itself: the caller installs the new GTK in the
// driver first, then Rekey sends it to every established station.
func (a *Authenticator) Rekey(ctx context.Context, gtk []byte, index int) {
	a.post(ctx, event{kind: evRekey, frame: bytes.Clone(gtk), gen: index})
}

// Receive hands an EAPOL frame from a station to the authenticator. It
// never blocks: frames over the station's rate or beyond the queue are
// dropped and counted.
func (a *Authenticator) Receive(sta net.HardwareAddr, frame []byte) {
	key := sta.String()
	a.mu.Lock()
	l := a.limiters[key]
	if l == nil {
		if len(a.limiters) > 4096 {
			clear(a.limiters) // bounded: only associated stations matter
		}
		l = rate.NewLimiter(rate.Limit(a.cfg.FramesPerSecond), int(a.cfg.FramesPerSecond))
		a.limiters[key] = l
	}
	ok := l.Allow()
	if !ok {
		a.dropped++
	}
	a.mu.Unlock()
	if !ok || len(frame) > MaxFrameLen {
		return
	}
	select {
	case a.events <- event{kind: evFrame, sta: clone(sta), frame: bytes.Clone(frame)}:
	default:
		a.mu.Lock()
		a.dropped++
		a.mu.Unlock()
	}
}

// Dropped counts EAPOL frames dropped by rate limiting or a full queue.
func (a *Authenticator) Dropped() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped
}

// BadMIC counts EAPOL-Key message 2s dropped for a bad MIC: a wrong
// passphrase, or a frame forged by someone in radio range.
func (a *Authenticator) BadMIC() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.badMIC
}

func (a *Authenticator) post(ctx context.Context, e event) {
	select {
	case a.events <- e:
	case <-ctx.Done():
	}
}

// Run processes events until ctx is done.
func (a *Authenticator) Run(ctx context.Context) {
	defer func() {
		for _, s := range a.stations {
			if s.timer != nil {
				s.timer.Stop()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-a.events:
			a.handle(ctx, e)
		}
	}
}

func (a *Authenticator) handle(ctx context.Context, e event) {
	key := e.sta.String()
	s := a.stations[key]
	switch e.kind {
	case evAssoc:
		if s != nil && s.timer != nil {
			s.timer.Stop()
		}
		s = &station{addr: e.sta, rsne: e.rsne, gen: 0}
		if s0 := a.stations[key]; s0 != nil {
			s.gen = s0.gen + 1
			s.replay = s0.replay // replay counters never go back for a station
		}
		if _, err := rand.Read(s.anonce[:]); err != nil {
			a.log.Error("wpa: no randomness for ANonce", "err", err)
			return
		}
		a.stations[key] = s
		s.phase, s.attempts = awaitMsg2, 0
		a.sendMsg1(ctx, s)
	case evDisassoc:
		if s != nil {
			if s.timer != nil {
				s.timer.Stop()
			}
			delete(a.stations, key)
		}
	case evTimeout:
		if s == nil || e.gen != s.gen {
			return
		}
		a.retry(ctx, s)
	case evFrame:
		if s == nil {
			return
		}
		a.frame(ctx, s, e.frame)
	case evRekey:
		a.cfg.GTK, a.cfg.GTKIndex = e.frame, e.gen
		a.gtkGen++
		// Stations still in the 4-way handshake get the new key with
		// message 3, or a group handshake once it completes.
		for _, s := range a.stations {
			if s.phase == established || s.phase == awaitGroupMsg2 {
				s.phase, s.attempts = awaitGroupMsg2, 0
				a.sendGroupMsg1(ctx, s)
			}
		}
	}
}

func (a *Authenticator) arm(s *station) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.gen++
	gen, sta := s.gen, s.addr
	s.timer = time.AfterFunc(a.cfg.Timeout, func() {
		select {
		case a.events <- event{kind: evTimeout, sta: sta, gen: gen}:
		default: // queue full: the next frame or timeout will catch up
		}
	})
}

func (a *Authenticator) retry(ctx context.Context, s *station) {
	if s.attempts >= a.cfg.Attempts {
		if s.phase == awaitMsg2 && s.badMIC > 0 {
			// Every message 2 we got had a bad MIC: most likely a wrong
			// passphrase (hostapd says the same).
			a.log.Warn("wrong passphrase from "+s.addr.String(), "bad_mic_frames", s.badMIC)
			a.fail(s, ReasonHandshakeTimeout, "wrong passphrase")
			return
		}
		a.fail(s, ReasonHandshakeTimeout, "handshake timeout")
		return
	}
	switch s.phase {
	case awaitMsg2:
		a.sendMsg1(ctx, s)
	case awaitMsg4:
		a.sendMsg3(ctx, s)
	case awaitGroupMsg2:
		a.sendGroupMsg1(ctx, s)
	}
}

func (a *Authenticator) send(s *station, b []byte) {
	s.attempts++
	if err := a.port.SendEAPOL(s.addr, b); err != nil {
		a.log.Warn("wpa: send EAPOL-Key", "sta", s.addr.String(), "err", err)
	}
	a.arm(s)
}

func (a *Authenticator) sendMsg1(_ context.Context, s *station) {
	s.replay++
	f := KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoAck, KeyLength: 16, ReplayCounter: s.replay, Nonce: s.anonce}
	a.send(s, f.Marshal())
}

func (a *Authenticator) sendMsg3(_ context.Context, s *station) {
	s.replay++
	s.gtkGen = a.gtkGen
	data := append(RSNE(), gtkKDE(a.cfg.GTKIndex, a.cfg.GTK)...)
	wrapped, err := KeyWrap(s.ptk.KEK, padKeyData(data))
	if err != nil {
		a.log.Error("wpa: wrap key data", "err", err)
		return
	}
	f := KeyFrame{
		Info:      KeyInfoVersion2 | KeyInfoPairwise | KeyInfoInstall | KeyInfoAck | KeyInfoMIC | KeyInfoSecure | KeyInfoEncrypted,
		KeyLength: 16, ReplayCounter: s.replay, Nonce: s.anonce, Data: wrapped,
	}
	a.send(s, sign(s.ptk.KCK, &f))
}

func (a *Authenticator) sendGroupMsg1(_ context.Context, s *station) {
	s.replay++
	s.gtkGen = a.gtkGen
	wrapped, err := KeyWrap(s.ptk.KEK, padKeyData(gtkKDE(a.cfg.GTKIndex, a.cfg.GTK)))
	if err != nil {
		a.log.Error("wpa: wrap group key", "err", err)
		return
	}
	f := KeyFrame{
		Info:          KeyInfoVersion2 | KeyInfoAck | KeyInfoMIC | KeyInfoSecure | KeyInfoEncrypted,
		ReplayCounter: s.replay, Data: wrapped,
	}
	a.send(s, sign(s.ptk.KCK, &f))
}

func (a *Authenticator) frame(ctx context.Context, s *station, b []byte) {
	f, err := Parse(b)
	if err != nil {
		a.log.Debug("wpa: dropped malformed EAPOL frame", "sta", s.addr.String(), "err", err)
		return
	}
	if f.Info&KeyInfoVersionMask != KeyInfoVersion2 || f.Info&(KeyInfoAck|KeyInfoMIC) != KeyInfoMIC {
		return
	}
	if f.ReplayCounter != s.replay {
		return // stale or replayed
	}
	pairwise := f.Info&KeyInfoPairwise != 0
	switch {
	case s.phase == awaitMsg2 && pairwise && f.Info&KeyInfoSecure == 0:
		ptk := DerivePTK(a.cfg.PMK, a.cfg.BSSID, s.addr, s.anonce[:], f.Nonce[:])
		if !verifyMIC(ptk.KCK, b, f) {
			// Dropped, never a deauthentication: anyone in radio range
			// can forge a message 2, and must not be able to kick a
			// joining station. Message 1 is resent as the timer says;
			// after the last attempt a station whose every message 2
			// had a bad MIC is told apart as a wrong passphrase.
			s.badMIC++
			a.mu.Lock()
			a.badMIC++
			a.mu.Unlock()
			a.limited.Log(slog.LevelWarn, "bad_mic", "wpa: EAPOL message 2 with a bad MIC dropped (wrong passphrase or forged)", "sta", s.addr.String())
			return
		}
		if s.rsne != nil {
			if got := findElement(f.Data, 0x30); !bytes.Equal(got, s.rsne) {
				a.fail(s, ReasonIEMismatch, "RSN element in message 2 differs from the association request")
				return
			}
		}
		s.ptk, s.phase, s.attempts = ptk, awaitMsg4, 0
		a.sendMsg3(ctx, s)
	case s.phase == awaitMsg4 && pairwise && f.Info&KeyInfoSecure != 0:
		if !verifyMIC(s.ptk.KCK, b, f) {
			return // not from the station holding the PTK; keep waiting
		}
		s.timer.Stop()
		s.gen++
		if err := a.port.InstallPairwiseKey(s.addr, s.ptk.TK); err != nil {
			a.log.Error("wpa: install pairwise key", "sta", s.addr.String(), "err", err)
			a.fail(s, ReasonHandshakeTimeout, "could not install the key")
			return
		}
		if err := a.port.Authorize(s.addr); err != nil {
			a.log.Error("wpa: authorize station", "sta", s.addr.String(), "err", err)
			a.fail(s, ReasonHandshakeTimeout, "could not authorize")
			return
		}
		s.phase = established
		a.log.Info("wpa: station authenticated", "sta", s.addr.String())
		if a.cfg.OnComplete != nil {
			a.cfg.OnComplete(s.addr)
		}
		if s.gtkGen != a.gtkGen {
			// The group key changed after message 3 carried the old one.
			s.phase, s.attempts = awaitGroupMsg2, 0
			a.sendGroupMsg1(ctx, s)
		}
	case s.phase == awaitGroupMsg2 && !pairwise:
		if !verifyMIC(s.ptk.KCK, b, f) {
			return
		}
		s.timer.Stop()
		s.gen++
		s.phase = established
		if s.gtkGen != a.gtkGen {
			// Another rekey came while this one was under way.
			s.phase, s.attempts = awaitGroupMsg2, 0
			a.sendGroupMsg1(ctx, s)
		}
	}
}

func (a *Authenticator) fail(s *station, reason uint16, why string) {
	if s.timer != nil {
		s.timer.Stop()
	}
	delete(a.stations, s.addr.String())
	if err := a.port.Deauthenticate(s.addr, reason); err != nil {
		a.log.Warn("wpa: deauthenticate", "sta", s.addr.String(), "err", err)
	}
	a.log.Info("wpa: handshake failed", "sta", s.addr.String(), "reason", why)
	if a.cfg.OnFailure != nil {
		a.cfg.OnFailure(s.addr, why)
	}
}

func clone(m net.HardwareAddr) net.HardwareAddr { return append(net.HardwareAddr(nil), m...) }
