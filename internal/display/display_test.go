package display

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/kibitzbox/kibitzbox/hardware/detect"
	"github.com/kibitzbox/kibitzbox/hardware/oled"
	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/render"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sameAsRender checks that img is render.Render(size, in) scaled by n.
func sameAsRender(t *testing.T, img image.Image, size image.Point, in render.Input, n int) {
	t.Helper()
	f, err := render.Render(size, in, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != size.Mul(n) {
		t.Fatalf("image is %v, want %v", got, size.Mul(n))
	}
	for y := 0; y < size.Y*n; y++ {
		for x := 0; x < size.X*n; x++ {
			g, _, _, _ := img.At(x, y).RGBA()
			if uint8(g>>8) != f.Image.GrayAt(x/n, y/n).Y {
				t.Fatalf("pixel (%d,%d) differs from the render", x, y)
			}
		}
	}
}

func TestPreviewEveryPanel(t *testing.T) {
	for panel, scale := range map[string]int{detect.SSD1306: 4, detect.SH1106: 4, detect.EPD2in13: 3, detect.Inky: 3, detect.HDMI: 1} {
		cfg := DefaultConfig()
		cfg.Panel, cfg.Sample = panel, true
		cfg.Preview = filepath.Join(t.TempDir(), panel+".png")
		if err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("%s: %v", panel, err)
		}
		size, err := panelSize(panel, cfg.HDMISize)
		if err != nil {
			t.Fatal(err)
		}
		sameAsRender(t, readPNG(t, cfg.Preview), size, render.Sample(), scale)
	}
}

func TestPreviewNeedsAPanel(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Preview = filepath.Join(t.TempDir(), "x.png")
	if err := Run(context.Background(), cfg); err == nil {
		t.Error("preview with --panel=auto succeeded")
	}
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/status"
}

func TestPreviewWithDaemonsAbsent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Panel, cfg.PreviewScale = detect.SSD1306, 1
	cfg.HubStatus, cfg.HotspotStatus = closedURL(t), closedURL(t)
	cfg.Preview = filepath.Join(t.TempDir(), "starting.png")
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	sameAsRender(t, readPNG(t, cfg.Preview), image.Pt(128, 64), render.Input{}, 1)
}

func TestNoPanelIdlesUntilCancelled(t *testing.T) {
	for _, panel := range []string{detect.None, "no-such-panel"} {
		cfg := DefaultConfig()
		cfg.Panel = panel
		cfg.HubStatus, cfg.HotspotStatus = closedURL(t), closedURL(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg) }()
		select {
		case err := <-done:
			t.Fatalf("%s: run returned early (%v); under gokrazy that is a restart loop", panel, err)
		case <-time.After(200 * time.Millisecond):
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: run = %v, want nil", panel, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: run ignored cancellation", panel)
		}
	}
}

// statusServer serves a status document that the test can change or
// take away, through the real status handler.
type statusServer struct {
	mu  sync.Mutex
	doc any
	srv *httptest.Server
}

func newStatusServer(doc any) *statusServer {
	s := &statusServer{doc: doc}
	s.srv = httptest.NewServer(status.Handler(func() any {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.doc
	}, func(*metrics.Writer) {}))
	return s
}

func (s *statusServer) url() string { return s.srv.URL + "/status" }

func (s *statusServer) set(doc any) {
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

// fakeScreen records the last picture shown.
type fakeScreen struct {
	mu   sync.Mutex
	size image.Point
	last []byte
	n    int
}

func (f *fakeScreen) String() string    { return "fake" }
func (f *fakeScreen) Size() image.Point { return f.size }
func (f *fakeScreen) Close() error      { return nil }
func (f *fakeScreen) show(_ context.Context, img *image.Gray, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = append(f.last[:0], img.Pix...)
	f.n++
	return nil
}

// waitFor polls until the screen shows what render makes of in.
func (f *fakeScreen) waitFor(t *testing.T, in render.Input, what string) {
	t.Helper()
	want, err := render.Render(f.size, in, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		ok := bytes.Equal(f.last, want.Image.Pix)
		f.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("screen never showed %s", what)
}

func TestLoopFollowsTheDaemons(t *testing.T) {
	sample := render.Sample()
	hub, hotspot := newStatusServer(*sample.Hub), newStatusServer(*sample.Hotspot)
	defer hotspot.srv.Close()

	cfg := DefaultConfig()
	cfg.Interval = 50 * time.Millisecond
	src := &httpSource{hubURL: hub.url(), hotspotURL: hotspot.url(), client: hub.srv.Client(), log: slog.New(slog.DiscardHandler)}
	scr := &fakeScreen{size: image.Pt(250, 122)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop(ctx, cfg, scr, src, time.Now); close(done) }()
	defer func() { cancel(); <-done }()

	scr.waitFor(t, sample, "the sample status")

	// Someone joins: the live line follows.
	more := *sample.Hub
	more.InCall = 4
	hub.set(more)
	want := sample
	want.Hub = &more
	scr.waitFor(t, want, "4 people in the call")

	// The hub goes away: the warning comes, the call code stays (its
	// URL does not change while the box runs).
	hub.srv.Close()
	scr.waitFor(t, render.Input{Hotspot: sample.Hotspot, CallURL: sample.Hub.AppURL}, "the hub-down frame")
}

// testSource is a status the test changes by hand.
type testSource struct {
	mu sync.Mutex
	in render.Input
}

func (s *testSource) get(context.Context) render.Input {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in
}

type recordBus struct{ *i2ctest.Record }

func (recordBus) Close() error { return nil }

func (b recordBus) sawContrast(level byte) bool {
	b.Lock()
	defer b.Unlock()
	for _, op := range b.Ops {
		if bytes.Equal(op.W, []byte{0x00, 0x81, level}) {
			return true
		}
	}
	return false
}

func TestOLEDDimsWhenIdleAndWakesOnChange(t *testing.T) {
	bus := recordBus{&i2ctest.Record{}}
	dev, err := oled.New(bus, oled.Addr, oled.SSD1306)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Interval, cfg.DimAfter = 20*time.Millisecond, 150*time.Millisecond
	src := &testSource{in: render.Sample()}
	scr := &oledScreen{dev: dev, bus: bus, dimAfter: cfg.DimAfter}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop(ctx, cfg, scr, src, time.Now); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, func() bool { return bus.sawContrast(contrastDimmed) }, "dimmed after idling")
	in := render.Sample()
	in.Hub.InCall = 5
	src.mu.Lock()
	src.in = in
	src.mu.Unlock()
	waitUntil(t, func() bool { return bus.sawContrast(contrastNormal) }, "bright again after a change")
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never %s", what)
}

func TestRefreshPolicy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EinkMinGap, cfg.EinkFullGap, cfg.EinkMaxPartials = 10*time.Second, time.Minute, 2
	p := newPolicy(cfg)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		at         time.Duration
		canPartial bool
		err        error
		want       refresh
	}{
		{0, true, nil, refreshFull},                   // first picture: full
		{5 * time.Second, true, nil, refreshNone},     // burst: wait for the gap
		{10 * time.Second, true, nil, refreshPartial}, // then partial
		{20 * time.Second, true, nil, refreshPartial}, // second partial
		{30 * time.Second, true, nil, refreshPartial}, // full due, but not within a minute: partial
		{60 * time.Second, true, nil, refreshFull},    // a minute since the last full: full
		{70 * time.Second, true, errBusy, refreshPartial},
		{80 * time.Second, true, nil, refreshNone}, // failed: needs a full, not within the minute
		{120 * time.Second, true, nil, refreshFull},
		{130 * time.Second, false, nil, refreshNone}, // full-only panel: once a minute
		{180 * time.Second, false, nil, refreshFull},
	}
	for i, s := range steps {
		got := p.next(at(s.at), s.canPartial)
		if got != s.want {
			t.Fatalf("step %d at %v: %v, want %v", i, s.at, got, s.want)
		}
		if got != refreshNone {
			p.done(at(s.at), got, s.err)
		}
	}
}

var errBusy = os.ErrDeadlineExceeded

func TestEinkScreenUpdatesOnlyOnChange(t *testing.T) {
	var fulls, partials int
	cfg := DefaultConfig()
	scr := &einkScreen{name: "fake-eink", size: image.Pt(250, 122),
		full:    func(context.Context, image.Image) error { fulls++; return nil },
		partial: func(context.Context, image.Image) error { partials++; return nil },
		policy:  newPolicy(cfg)}
	t0 := time.Now()
	a, _ := renderFrame(scr.size, render.Sample(), 0, 0)
	in := render.Sample()
	in.Hub.InCall = 7
	b, _ := renderFrame(scr.size, in, 0, 0)
	ctx := context.Background()
	for i := 0; i < 100; i++ { // the loop calls show every tick
		if err := scr.show(ctx, a, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if fulls != 1 || partials != 0 {
		t.Fatalf("unchanged picture: %d full, %d partial refreshes; want 1, 0", fulls, partials)
	}
	if err := scr.show(ctx, b, t0.Add(200*time.Second)); err != nil {
		t.Fatal(err)
	}
	if fulls != 1 || partials != 1 {
		t.Errorf("one change: %d full, %d partial; want 1, 1", fulls, partials)
	}
}

func TestRotate180(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 128, 64))
	img.Pix[img.PixOffset(1, 2)] = 0xFF
	r := rotate180(img)
	if r.GrayAt(126, 61).Y != 0xFF || r.GrayAt(1, 2).Y != 0 {
		t.Error("pixel (1,2) did not move to (126,61)")
	}
	if !bytes.Equal(rotate180(r).Pix, img.Pix) {
		t.Error("two half turns are not the identity")
	}
}
