// Package hubclient dials a Kibitz hub from its blob exactly as a browser
// does: a pion/webrtc offer with one "hub" data channel, an answer
// synthesized locally from the blob (ICE-lite hub, DTLS server, SCTP port
// 5000), and then the hub's JSON frames. Tests, benchmarks and tools use it.
package hubclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// Frame is one frame received from the hub.
type Frame struct {
	T       string          `json:"t"`
	ID      int64           `json:"id"`
	IDs     []int64         `json:"ids"`
	Payload json.RawMessage `json:"payload"`
	X       json.RawMessage `json:"x"`
	// Raw is the whole message as received.
	Raw []byte `json:"-"`
	// At is when it arrived.
	At time.Time `json:"-"`
}

// Option configures Dial.
type Option func(*options)

type options struct {
	loopbackOnly bool
	ufrag, pwd   string
	fingerprint  *[32]byte
	recvBuffer   int
	label        string
	localIP      netip.Addr
}

// LoopbackOnly binds the client to 127.0.0.1 and uses only loopback
// endpoints of the blob, so test traffic never leaves the machine.
func LoopbackOnly() Option { return func(o *options) { o.loopbackOnly = true } }

// WithLocalIP binds the client to ip and offers only that address as a
// candidate (tests that play many guests from one machine).
func WithLocalIP(ip netip.Addr) Option { return func(o *options) { o.localIP = ip } }

// WithCredentials overrides the blob's ICE ufrag and pwd (negative tests).
func WithCredentials(ufrag, pwd string) Option {
	return func(o *options) { o.ufrag, o.pwd = ufrag, pwd }
}

// WithFingerprint overrides the pinned DTLS fingerprint (negative tests).
func WithFingerprint(fp [32]byte) Option { return func(o *options) { o.fingerprint = &fp } }

// WithRecvBuffer sets how many received frames wait for Recv before newer
// ones are dropped (default 4096; see Client.Dropped).
func WithRecvBuffer(n int) Option { return func(o *options) { o.recvBuffer = n } }

// WithLabel sets the data channel label (default "hub").
func WithLabel(label string) Option { return func(o *options) { o.label = label } }

// Client is one connection to a hub.
type Client struct {
	id    int64
	pc    *webrtc.PeerConnection
	dc    *webrtc.DataChannel
	conn  *vanishConn
	mux   *ice.UDPMuxDefault
	recv  chan Frame
	peers chan []int64
	echo  chan json.RawMessage
	done  chan struct{}

	peersMu, echoMu sync.Mutex
	closeOnce       sync.Once
	dropped         atomic.Uint64
}

// ErrClosed is returned after the connection to the hub ended.
var ErrClosed = errors.New("hubclient: connection closed")

// Dial connects to the hub described by blob (a blob or a link carrying
// one) and returns once the hub's id frame has arrived.
func Dial(ctx context.Context, blob string, opts ...Option) (*Client, error) {
	o := options{recvBuffer: 4096, label: "hub"}
	for _, f := range opts {
		f(&o)
	}
	b, err := galaxy.ParseBlob(galaxy.BlobFromLink(blob))
	if err != nil {
		return nil, err
	}
	if o.ufrag != "" {
		b.Ufrag, b.Pwd = o.ufrag, o.pwd
	}
	if o.fingerprint != nil {
		b.Fingerprint = *o.fingerprint
	}
	var eps []galaxy.Endpoint
	for _, ep := range b.Endpoints {
		a, err := netip.ParseAddr(ep.Addr)
		if o.loopbackOnly && (err != nil || !a.IsLoopback()) {
			continue
		}
		eps = append(eps, ep)
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("hubclient: no usable endpoint in blob")
	}
	b.Endpoints = eps

	bind := &net.UDPAddr{IP: net.IPv4zero}
	if o.loopbackOnly {
		bind.IP = net.IPv4(127, 0, 0, 1)
	}
	if o.localIP.IsValid() {
		bind.IP = net.IP(o.localIP.AsSlice())
	}
	udp, err := net.ListenUDP("udp4", bind)
	if err != nil {
		return nil, fmt.Errorf("hubclient: bind: %w", err)
	}
	udp.SetReadBuffer(4 << 20)
	udp.SetWriteBuffer(4 << 20)
	vc := &vanishConn{UDPConn: udp, loopbackOnly: o.loopbackOnly}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: vc, Logger: lf.NewLogger("mux")})
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSCTPMaxMessageSize(1 << 20)
	if o.loopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if o.localIP.IsValid() {
		want := net.IP(o.localIP.AsSlice())
		se.SetIncludeLoopbackCandidate(o.localIP.IsLoopback())
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(want) })
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		mux.Close()
		return nil, fmt.Errorf("hubclient: peer connection: %w", err)
	}
	c := &Client{
		pc:    pc,
		conn:  vc,
		mux:   mux,
		recv:  make(chan Frame, o.recvBuffer),
		peers: make(chan []int64, 1),
		echo:  make(chan json.RawMessage, 1),
		done:  make(chan struct{}),
	}
	idCh := make(chan int64, 1)
	failed := make(chan error, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			select {
			case failed <- fmt.Errorf("hubclient: connection %s", s):
			default:
			}
			c.shutdown()
		}
	})
	dc, err := pc.CreateDataChannel(o.label, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hubclient: data channel: %w", err)
	}
	c.dc = dc
	dc.OnClose(c.shutdown)
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		f := Frame{Raw: m.Data, At: time.Now()}
		if json.Unmarshal(m.Data, &f) != nil {
			return
		}
		f.Raw = m.Data
		switch f.T {
		case "id":
			select {
			case idCh <- f.ID:
			default:
			}
			return
		case "peers":
			select {
			case c.peers <- f.IDs:
			default:
			}
			return
		case "echo":
			select {
			case c.echo <- f.X:
			default:
			}
			return
		}
		select {
		case c.recv <- f:
		default:
			c.dropped.Add(1)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hubclient: offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		c.Close()
		return nil, fmt.Errorf("hubclient: local description: %w", err)
	}
	answer := SynthesizeAnswer(b, offer.SDP)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.Close()
		return nil, fmt.Errorf("hubclient: synthesized answer rejected: %w", err)
	}
	select {
	case id := <-idCh:
		c.id = id
		return c, nil
	case err := <-failed:
		c.Close()
		return nil, err
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("hubclient: waiting for id: %w", ctx.Err())
	}
}

// SynthesizeAnswer builds the hub's SDP answer from the blob and the local
// offer, line for line as the kibitz.chat client does.
func SynthesizeAnswer(b *galaxy.Blob, offer string) string {
	mid := "0"
	for _, l := range strings.Split(offer, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=mid:"); ok {
			mid = v
			break
		}
	}
	lines := []string{
		"v=0",
		"o=- 1 1 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=ice-lite",
		"a=group:BUNDLE " + mid,
		"a=msid-semantic: WMS",
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
		"c=IN IP4 0.0.0.0",
		"a=ice-ufrag:" + b.Ufrag,
		"a=ice-pwd:" + b.Pwd,
		"a=fingerprint:sha-256 " + galaxy.FingerprintHex(b.Fingerprint),
		"a=setup:passive",
		"a=mid:" + mid,
		"a=sctp-port:5000",
		"a=max-message-size:262144",
	}
	for i, ep := range b.Endpoints {
		lines = append(lines, fmt.Sprintf("a=candidate:%d 1 udp %d %s %d typ host generation 0", i+1, 2130706431-i, ep.Addr, ep.Port))
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

func (c *Client) shutdown() {
	c.closeOnce.Do(func() { close(c.done) })
}

// ID is the id the hub gave this connection.
func (c *Client) ID() int64 { return c.id }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Dropped counts received frames lost because nobody called Recv in time.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// BufferedAmount is how many bytes wait in the data channel's send buffer.
func (c *Client) BufferedAmount() uint64 { return c.dc.BufferedAmount() }

// SendRaw sends data as one text (or, with binary, binary) message.
func (c *Client) SendRaw(data []byte, binary bool) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	var err error
	if binary {
		err = c.dc.Send(data)
	} else {
		err = c.dc.SendText(string(data))
	}
	if err != nil {
		return fmt.Errorf("hubclient: send: %w", err)
	}
	return nil
}

func (c *Client) sendJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("hubclient: encode frame: %w", err)
	}
	return c.SendRaw(data, false)
}

// Join moves this connection to room.
func (c *Client) Join(room string) error {
	return c.sendJSON(map[string]any{"t": "join", "room": room})
}

// Send sends payload (marshalled to JSON) to the peer with id to.
func (c *Client) Send(to int64, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("hubclient: encode payload: %w", err)
	}
	return c.sendJSON(struct {
		T       string          `json:"t"`
		ID      int64           `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}{"to", to, raw})
}

// Recv returns the next frame other than id, peers and echo replies.
func (c *Client) Recv(ctx context.Context) (Frame, error) {
	select {
	case f := <-c.recv:
		return f, nil
	default:
	}
	select {
	case f := <-c.recv:
		return f, nil
	case <-c.done:
		return Frame{}, ErrClosed
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Peers asks for the ids in this connection's room (itself included).
func (c *Client) Peers(ctx context.Context) ([]int64, error) {
	c.peersMu.Lock()
	defer c.peersMu.Unlock()
	select { // a late reply to an abandoned request
	case <-c.peers:
	default:
	}
	if err := c.SendRaw([]byte(`{"t":"peers"}`), false); err != nil {
		return nil, err
	}
	select {
	case ids := <-c.peers:
		return ids, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("hubclient: peers: %w", ctx.Err())
	}
}

// Echo sends x to the hub and returns what comes back.
func (c *Client) Echo(ctx context.Context, x any) (json.RawMessage, error) {
	c.echoMu.Lock()
	defer c.echoMu.Unlock()
	select {
	case <-c.echo:
	default:
	}
	if err := c.sendJSON(map[string]any{"t": "echo", "x": x}); err != nil {
		return nil, err
	}
	select {
	case x := <-c.echo:
		return x, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("hubclient: echo: %w", ctx.Err())
	}
}

// Vanish makes the client silently stop sending and receiving, like a
// killed tab or a phone that lost Wi-Fi: no DTLS close, no SCTP abort.
func (c *Client) Vanish() { c.conn.dead.Store(true) }

// Close closes the connection cleanly (SCTP abort, DTLS close_notify).
func (c *Client) Close() error {
	err := c.pc.Close()
	c.mux.Close()
	c.shutdown()
	return err
}

// vanishConn is the client's UDP socket; once dead it drops everything.
type vanishConn struct {
	*net.UDPConn
	dead         atomic.Bool
	loopbackOnly bool
}

func (v *vanishConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := v.UDPConn.ReadFrom(p)
		if err != nil || !v.dead.Load() {
			return n, a, err
		}
	}
}

func (v *vanishConn) WriteTo(p []byte, a net.Addr) (int, error) {
	if v.dead.Load() {
		return len(p), nil
	}
	if ua, ok := a.(*net.UDPAddr); ok && v.loopbackOnly && !ua.IP.IsLoopback() {
		return 0, fmt.Errorf("hubclient: refusing to send to non-loopback %s", a)
	}
	return v.UDPConn.WriteTo(p, a)
}
