package main

// The "virtual browser": a pion/webrtc PeerConnection that connects to a hub
// from nothing but its blob. It creates a local offer with one data channel,
// synthesizes the hub's answer locally (no signaling), connects and then
// speaks the hub's JSON frame protocol.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// Frame is one message received from the hub.
type Frame struct {
	At      time.Time       `json:"-"`
	Raw     []byte          `json:"-"`
	T       string          `json:"t"`
	ID      int             `json:"id"`
	IDs     []int           `json:"ids"`
	Payload json.RawMessage `json:"payload"`
	X       json.RawMessage `json:"x"`
	Bad     bool            `json:"-"` // not a JSON object with the expected field types
}

// parseFrame decodes one hub message; a message that is not a JSON object
// with the expected field types comes back with Bad set.
func parseFrame(raw []byte, at time.Time) Frame {
	f := Frame{At: at, Raw: raw}
	if err := json.Unmarshal(raw, &f); err != nil {
		f.Bad = true
	}
	return f
}

// AnswerOpts shapes the SDP answer the harness synthesizes for the hub.
type AnswerOpts struct {
	Setup      string // a=setup value claimed for the hub; default "passive" (hub = DTLS server)
	MaxMsgSize int    // a=max-message-size; 0 = default 262144; <0 = omit the line
	SCTPPort   int    // a=sctp-port; default 5000
	NoLite     bool   // omit a=ice-lite
}

// DialOpts configures one virtual browser.
type DialOpts struct {
	Answer     AnswerOpts
	Label      string // data channel label; default "hub"
	Negotiated bool   // pre-negotiated (no DCEP OPEN) channel with id 0
	Unordered  bool
	Timeout    time.Duration // wait for the id frame; default 10s
	// OnFrame, if set, is called for every frame after the id frame (from
	// pion's read goroutine; must not block for long). Otherwise frames are
	// queued on Peer.Frames.
	OnFrame func(p *Peer, f Frame)
	Quiet   bool // silence pion's own logging
}

// Peer is one connected virtual browser.
type Peer struct {
	ID       int
	Created  time.Time     // PeerConnection creation
	GotID    time.Time     // id frame received
	JoinTime time.Duration // GotID - Created
	// Milestones on the way to the id frame, as offsets from Created.
	ICEDone  time.Duration // ICE connected
	DTLSDone time.Duration // PeerConnection connected (DTLS up)
	DCOpen   time.Duration // data channel open (DCEP sent)
	Frames   chan Frame
	Dropped  atomic.Int64 // frames dropped because Frames was full

	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	conn    *killConn
	mux     *ice.UDPMuxDefault
	onFrame func(*Peer, Frame)

	iceNs, dtlsNs, openNs atomic.Int64 // milestones, set from pion callbacks

	idCh      chan int
	failCh    chan error
	closeOnce sync.Once
}

// killConn is the peer's single UDP socket (bound to 127.0.0.1). Kill makes it
// silently drop everything in both directions, simulating a browser that
// vanished (tab killed, Wi-Fi lost) without any close handshake.
type killConn struct {
	*net.UDPConn
	dead atomic.Bool
}

// ReadFrom discards everything that arrives once the peer has vanished.
func (k *killConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := k.UDPConn.ReadFrom(p)
		if err != nil || !k.dead.Load() {
			return n, a, err
		}
	}
}

// WriteTo pretends to send once the peer has vanished, and refuses any
// destination that is not loopback.
func (k *killConn) WriteTo(p []byte, a net.Addr) (int, error) {
	if k.dead.Load() {
		return len(p), nil
	}
	if ua, ok := a.(*net.UDPAddr); ok && !ua.IP.IsLoopback() {
		return 0, fmt.Errorf("refusing to send to non-loopback %s", a)
	}
	return k.UDPConn.WriteTo(p, a)
}

// errTimeout is returned when the hub does not answer in time.
var errTimeout = errors.New("timeout")

// SynthAnswer builds the hub's SDP answer from the blob and our local offer.
func SynthAnswer(b *Blob, offer string, o AnswerOpts) string {
	mid := "0"
	for _, l := range strings.Split(offer, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "a=mid:") {
			mid = strings.TrimPrefix(l, "a=mid:")
			break
		}
	}
	setup := o.Setup
	if setup == "" {
		setup = "passive"
	}
	sctpPort := o.SCTPPort
	if sctpPort == 0 {
		sctpPort = 5000
	}
	var s strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&s, format+"\r\n", a...) }
	w("v=0")
	w("o=- 1 2 IN IP4 127.0.0.1")
	w("s=-")
	w("t=0 0")
	if !o.NoLite {
		w("a=ice-lite")
	}
	w("a=group:BUNDLE %s", mid)
	w("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
	w("c=IN IP4 0.0.0.0")
	w("a=mid:%s", mid)
	w("a=ice-ufrag:%s", b.Ufrag)
	w("a=ice-pwd:%s", b.Pwd)
	w("a=fingerprint:sha-256 %s", b.FingerprintHex())
	w("a=setup:%s", setup)
	w("a=sctp-port:%d", sctpPort)
	switch {
	case o.MaxMsgSize == 0:
		w("a=max-message-size:262144")
	case o.MaxMsgSize > 0:
		w("a=max-message-size:%d", o.MaxMsgSize)
	}
	for i, ep := range b.Endpoints {
		prio := 2130706431 - i
		w("a=candidate:%d 1 udp %d %s %d typ host", i+1, prio, ep.IP, ep.Port)
	}
	w("a=end-of-candidates")
	return s.String()
}

// Dial connects one virtual browser to the hub and waits for its id frame.
func Dial(ctx context.Context, b *Blob, o DialOpts) (*Peer, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Label == "" {
		o.Label = "hub"
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	// Big socket buffers, so kernel drops (see udpDrops) are the hub's, not ours.
	_ = udp.SetReadBuffer(4 << 20)
	_ = udp.SetWriteBuffer(4 << 20)
	kc := &killConn{UDPConn: udp}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	if o.Quiet {
		lf.DefaultLogLevel = logging.LogLevelDisabled
	}
	if os.Getenv("HUBPROBE_PION_DEBUG") != "" { // troubleshooting: pion's own warnings
		lf.DefaultLogLevel = logging.LogLevelDebug
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: kc, Logger: lf.NewLogger("mux")})

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetSCTPMaxMessageSize(1 << 20)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))

	p := &Peer{
		Frames:  make(chan Frame, 8192),
		conn:    kc,
		mux:     mux,
		onFrame: o.OnFrame,
		idCh:    make(chan int, 1),
		failCh:  make(chan error, 1),
	}
	p.Created = time.Now()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	p.pc = pc
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			p.iceNs.CompareAndSwap(0, int64(time.Since(p.Created)))
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			p.dtlsNs.CompareAndSwap(0, int64(time.Since(p.Created)))
		}
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			select {
			case p.failCh <- fmt.Errorf("peer connection %s", s):
			default:
			}
		}
	})
	init := &webrtc.DataChannelInit{}
	if o.Negotiated {
		neg, id := true, uint16(0)
		init.Negotiated, init.ID = &neg, &id
	}
	if o.Unordered {
		f := false
		init.Ordered = &f
	}
	dc, err := pc.CreateDataChannel(o.Label, init)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("create data channel %q: %w", o.Label, err)
	}
	p.dc = dc
	dc.OnOpen(func() { p.openNs.CompareAndSwap(0, int64(time.Since(p.Created))) })
	var gotID atomic.Bool
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		now := time.Now()
		f := parseFrame(m.Data, now)
		if !gotID.Load() && f.T == "id" {
			gotID.Store(true)
			p.GotID = now
			select {
			case p.idCh <- f.ID:
			default:
			}
			return
		}
		if p.onFrame != nil {
			p.onFrame(p, f)
			return
		}
		select {
		case p.Frames <- f:
		default:
			p.Dropped.Add(1)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		p.Close()
		return nil, fmt.Errorf("set local offer: %w", err)
	}
	ans := SynthAnswer(b, offer.SDP, o.Answer)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		p.Close()
		return nil, fmt.Errorf("answer rejected by pion: %w", err)
	}
	t := time.NewTimer(o.Timeout)
	defer t.Stop()
	select {
	case id := <-p.idCh:
		p.ID = id
		p.JoinTime = p.GotID.Sub(p.Created)
		p.ICEDone = time.Duration(p.iceNs.Load())
		p.DTLSDone = time.Duration(p.dtlsNs.Load())
		p.DCOpen = time.Duration(p.openNs.Load())
		return p, nil
	case err := <-p.failCh:
		p.Close()
		return nil, fmt.Errorf("before the id frame: %w", err)
	case <-t.C:
		p.Close()
		return nil, fmt.Errorf("no id frame within %v: %w", o.Timeout, errTimeout)
	case <-ctx.Done():
		p.Close()
		return nil, fmt.Errorf("dial: %w", ctx.Err())
	}
}

// Send marshals v and sends it as a text message.
func (p *Peer) Send(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return p.SendRaw(raw, false)
}

// SendRaw sends bytes as a text (or binary) data channel message.
func (p *Peer) SendRaw(raw []byte, binary bool) error {
	if binary {
		return p.dc.Send(raw)
	}
	return p.dc.SendText(string(raw))
}

// Buffered returns the data channel's bufferedAmount.
func (p *Peer) Buffered() uint64 { return p.dc.BufferedAmount() }

// Next waits for the next queued frame matching pred (nil = any).
func (p *Peer) Next(timeout time.Duration, pred func(Frame) bool) (Frame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f := <-p.Frames:
			if pred == nil || pred(f) {
				return f, nil
			}
		case <-t.C:
			return Frame{}, fmt.Errorf("no matching frame within %v: %w", timeout, errTimeout)
		}
	}
}

// Drain discards queued frames.
func (p *Peer) Drain() {
	for {
		select {
		case <-p.Frames:
		default:
			return
		}
	}
}

// Peers asks for the room's member list.
func (p *Peer) Peers(timeout time.Duration) ([]int, error) {
	if err := p.Send(map[string]any{"t": "peers"}); err != nil {
		return nil, fmt.Errorf("send peers: %w", err)
	}
	f, err := p.Next(timeout, func(f Frame) bool { return f.T == "peers" })
	if err != nil {
		return nil, fmt.Errorf("wait for peers reply: %w", err)
	}
	return f.IDs, nil
}

// Echo does one echo round trip with x and returns the echoed x.
func (p *Peer) Echo(x any, timeout time.Duration) (json.RawMessage, time.Duration, error) {
	t0 := time.Now()
	if err := p.Send(map[string]any{"t": "echo", "x": x}); err != nil {
		return nil, 0, fmt.Errorf("send echo: %w", err)
	}
	f, err := p.Next(timeout, func(f Frame) bool { return f.T == "echo" })
	if err != nil {
		return nil, 0, fmt.Errorf("wait for echo reply: %w", err)
	}
	return f.X, time.Since(t0), nil
}

// Join sends a join frame (no reply is defined by the protocol).
func (p *Peer) Join(room string) error { return p.Send(map[string]any{"t": "join", "room": room}) }

// Close shuts the peer down gracefully (SCTP/DTLS close as pion does it).
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		if p.pc != nil {
			_ = p.pc.Close()
		}
		_ = p.mux.Close()
	})
}

// Vanish makes the peer disappear without any goodbye: from now on its socket
// neither sends nor receives. Call Close later to free local resources (it
// sends nothing once vanished).
func (p *Peer) Vanish() { p.conn.dead.Store(true) }

// ConnState returns the PeerConnection state.
func (p *Peer) ConnState() webrtc.PeerConnectionState { return p.pc.ConnectionState() }

// SCTPMeta describes what SCTP features were negotiated with the hub
// (notably RFC 8260 I-DATA message interleaving).
func (p *Peer) SCTPMeta() string {
	m, ok := p.pc.SCTP().Metadata()
	if !ok {
		return "sctp: unknown"
	}
	return fmt.Sprintf("I-DATA=%v partial-reliability=%s zero-checksum=%v", m.MessageInterleavingEnabled, m.PartialReliabilityMode, m.ZeroChecksumSendingEnabled)
}
