package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

type testHub struct {
	*Hub
	device    *galaxy.Identity
	discovery *galaxy.Identity
	blob      string
	discBlob  string
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("HUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startHub(t testing.TB, mod func(*Config)) *testHub {
	t.Helper()
	dev, err := galaxy.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	disc, err := galaxy.Discovery()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ListenAddr: "127.0.0.1:0",
		Identities: []*galaxy.Identity{dev, disc},
		StateDir:   t.TempDir(),
		Limits:     DefaultLimits(),
		Logger:     testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hub Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("hub did not stop within 10 s")
		}
	})
	ep := []galaxy.Endpoint{{Addr: "127.0.0.1", Port: int(h.LocalAddr().Port())}}
	return &testHub{
		Hub:       h,
		device:    dev,
		discovery: disc,
		blob:      dev.Blob(3478, ep).String(),
		discBlob:  disc.Blob(3478, ep).String(),
	}
}

func dial(t testing.TB, blob string, opts ...hubclient.Option) *hubclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hubclient.Dial(ctx, blob, append([]hubclient.Option{hubclient.LoopbackOnly()}, opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func peersOf(t testing.TB, c *hubclient.Client) []int64 {
	t.Helper()
	ids, err := c.Peers(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...int64) []int64 {
	slices.Sort(ids)
	return ids
}

// joined waits until c's room is exactly want (join is asynchronous).
// joinedPair dials two clients, puts both in room "r" and waits until the
// first sees both; opts apply to the second.
func joinedPair(t testing.TB, blob string, opts ...hubclient.Option) (a, b *hubclient.Client) {
	t.Helper()
	a = dial(t, blob)
	b = dial(t, blob, opts...)
	a.Join("r")
	b.Join("r")
	waitPeers(t, a, sorted(a.ID(), b.ID()))
	return a, b
}

func waitPeers(t testing.TB, c *hubclient.Client, want []int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var got []int64
	for time.Now().Before(deadline) {
		if got = peersOf(t, c); slices.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("peers of %d = %v, want %v", c.ID(), got, want)
}

func recvFrame(t testing.TB, c *hubclient.Client) hubclient.Frame {
	t.Helper()
	f, err := c.Recv(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("client %d recv: %v", c.ID(), err)
	}
	return f
}

// expectNothing checks that c receives no frame within d.
func expectNothing(t testing.TB, c *hubclient.Client, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if f, err := c.Recv(ctx); err == nil {
		t.Fatalf("client %d got unexpected frame %s", c.ID(), f.Raw)
	}
}

func TestRoomsRoutingAndPeers(t *testing.T) {
	h := startHub(t, nil)
	a := dial(t, h.blob)
	b := dial(t, h.blob)
	c := dial(t, h.blob)
	d := dial(t, h.blob) // never joins: lives in room ""
	ids := map[int64]bool{}
	for _, x := range []*hubclient.Client{a, b, c, d} {
		if x.ID() <= 0 || ids[x.ID()] {
			t.Fatalf("bad or repeated id %d", x.ID())
		}
		ids[x.ID()] = true
	}
	for _, x := range []*hubclient.Client{a, b} {
		if err := x.Join("room-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Join("room-2"); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, a, sorted(a.ID(), b.ID()))
	waitPeers(t, b, sorted(a.ID(), b.ID()))
	waitPeers(t, c, []int64{c.ID()})
	waitPeers(t, d, []int64{d.ID()})

	// Routing within the room, payload verbatim, sender stamped by the hub.
	payloads := []any{map[string]any{"k": "hi"}, "text", 42.5, []any{1, "x", nil}, nil}
	for _, p := range payloads {
		if err := a.Send(b.ID(), p); err != nil {
			t.Fatal(err)
		}
		f := recvFrame(t, b)
		want, _ := json.Marshal(p)
		if f.T != "from" || f.ID != a.ID() || string(f.Payload) != string(want) {
			t.Fatalf("b got %s, want from %d payload %s", f.Raw, a.ID(), want)
		}
	}
	// Self-send is allowed.
	if err := a.Send(a.ID(), "me"); err != nil {
		t.Fatal(err)
	}
	if f := recvFrame(t, a); f.ID != a.ID() || string(f.Payload) != `"me"` {
		t.Fatalf("self-send: %s", f.Raw)
	}
	// Across rooms, to unknown ids and from the default room: nothing.
	a.Send(c.ID(), "leak")
	a.Send(d.ID(), "leak")
	d.Send(a.ID(), "leak")
	a.Send(1<<52, "nobody")
	expectNothing(t, c, 300*time.Millisecond)
	expectNothing(t, d, 10*time.Millisecond)
	expectNothing(t, a, 10*time.Millisecond)

	// Re-join moves the peer.
	if err := b.Join("room-2"); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, c, sorted(b.ID(), c.ID()))
	waitPeers(t, a, []int64{a.ID()})

	// Echo returns x unchanged.
	x, err := a.Echo(ctxT(t, 5*time.Second), map[string]any{"n": 1, "s": []int{1, 2}})
	if err != nil || string(x) != `{"n":1,"s":[1,2]}` {
		t.Fatalf("echo: %s %v", x, err)
	}

	st := h.Stats()
	if st.Sessions != 4 {
		t.Fatalf("stats sessions %d, want 4", st.Sessions)
	}
	if st.Drops[dropNotRoutable] < 4 {
		t.Fatalf("not_routable drops %d, want ≥ 4", st.Drops[dropNotRoutable])
	}
}

func TestDiscoveryIdentity(t *testing.T) {
	t.Parallel() // it waits out a dial timeout
	h := startHub(t, nil)
	a := dial(t, h.discBlob)
	b := dial(t, h.blob)
	a.Join("lobby")
	b.Join("lobby")
	// Both identities share one port and one room space.
	waitPeers(t, a, sorted(a.ID(), b.ID()))
	// The discovery identity can be turned off.
	h2 := startHub(t, func(c *Config) { c.Identities = c.Identities[:1] })
	ctx := ctxT(t, 3*time.Second)
	if c, err := hubclient.Dial(ctx, h2.discBlob, hubclient.LoopbackOnly()); err == nil {
		c.Close()
		t.Fatal("discovery identity answered although it is off")
	}
}

func TestWrongCredentialsGetNoSession(t *testing.T) {
	t.Parallel() // it waits out four dial timeouts
	h := startHub(t, nil)
	fp := h.device.Fingerprint
	fp[0] ^= 0xff
	bad := []struct {
		name string
		opt  hubclient.Option
	}{
		{"wrong pwd", hubclient.WithCredentials(h.device.Ufrag, h.device.Pwd+"x")},
		// The discovery pwd with the device ufrag must not pass either.
		{"device ufrag with the discovery pwd", hubclient.WithCredentials(h.device.Ufrag, galaxy.DiscoveryPwd)},
		{"wrong fingerprint", hubclient.WithFingerprint(fp)},
		// The hub presents the identity the ufrag selected, so pinning
		// the discovery fingerprint for the device ufrag fails.
		{"device ufrag pinning the discovery certificate", hubclient.WithFingerprint(h.discovery.Fingerprint)},
	}
	t.Run("dials", func(t *testing.T) {
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				t.Parallel()
				if c, err := hubclient.Dial(ctxT(t, 4*time.Second), h.blob, hubclient.LoopbackOnly(), b.opt); err == nil {
					c.Close()
					t.Fatal("got a session")
				}
			})
		}
	})
	if n := h.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions after failed dials", n)
	}
	if h.Stats().Drops[dropSTUNIntegrity] == 0 {
		t.Fatal("bad integrity not counted")
	}
}

func TestVanishedPeerRemovedAndRoomGetsBye(t *testing.T) {
	h := startHub(t, nil)
	a := dial(t, h.blob)
	b := dial(t, h.blob)
	c := dial(t, h.blob)
	for _, x := range []*hubclient.Client{a, b, c} {
		x.Join("r")
	}
	waitPeers(t, a, sorted(a.ID(), b.ID(), c.ID()))
	start := time.Now()
	b.Vanish()
	for _, x := range []*hubclient.Client{a, c} {
		f, err := x.Recv(ctxT(t, 8*time.Second))
		if err != nil {
			t.Fatalf("no bye for vanished peer: %v", err)
		}
		if f.T != "from" || f.ID != b.ID() || string(f.Payload) != `{"k":"bye"}` {
			t.Fatalf("got %s, want bye from %d", f.Raw, b.ID())
		}
	}
	// The hub drops a session within 5 s of its last packet (the client's last
	// keepalive was at most ~2 s before Vanish); the rest is slack for a
	// loaded CI machine.
	if el := time.Since(start); el > 7*time.Second {
		t.Fatalf("vanished peer removed after %v, want within ~5 s", el)
	}
	waitPeers(t, a, sorted(a.ID(), c.ID()))
	// A cleanly closed peer gives the same bye.
	c.Close()
	f := recvFrame(t, a)
	if f.ID != c.ID() || string(f.Payload) != `{"k":"bye"}` {
		t.Fatalf("got %s, want bye from %d", f.Raw, c.ID())
	}
	waitPeers(t, a, []int64{a.ID()})
}

func TestLiveIdleSessionIsKept(t *testing.T) {
	t.Parallel() // it waits out the idle limit
	h := startHub(t, nil)
	a, b := joinedPair(t, h.blob)
	time.Sleep(7 * time.Second) // no frames, only ICE/SCTP keepalives
	waitPeers(t, a, sorted(a.ID(), b.ID()))
	expectNothing(t, a, 10*time.Millisecond)
}
