package display

import (
	"bytes"
	"context"
	"image"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/kibitzbox/kibitzbox/hardware/fb"
	"github.com/kibitzbox/kibitzbox/hardware/oled"
)

// screen is a panel as the loop sees it. show is called every tick with
// the current picture; each screen decides whether and how to update.
type screen interface {
	String() string
	Size() image.Point
	show(ctx context.Context, img *image.Gray, now time.Time) error
	Close() error
}

// dimmer is a screen that can lower its brightness against burn-in.
type dimmer interface {
	dim(dimmed bool) error
}

// OLED contrast levels: normal, and dimmed after --dim-after of no
// change (still readable in a dim room, much less wear).
const (
	contrastNormal = 0xCF
	contrastDimmed = 0x01
)

type oledScreen struct {
	dev       *oled.Dev
	bus       i2c.BusCloser
	dimAfter  time.Duration
	dimmed    bool
	rotate180 bool
}

func (s *oledScreen) String() string    { return s.dev.String() }
func (s *oledScreen) Size() image.Point { return s.dev.Bounds().Size() }

// show sends only the pages that changed, so calling it every tick is
// cheap.
func (s *oledScreen) show(_ context.Context, img *image.Gray, _ time.Time) error {
	if s.rotate180 {
		img = rotate180(img)
	}
	return s.dev.Show(img)
}

// rotate180 returns img upside down, for modules mounted that way.
func rotate180(img *image.Gray) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Pix[(b.Dy()-1-y)*out.Stride+(b.Dx()-1-x)] = img.Pix[img.PixOffset(b.Min.X+x, b.Min.Y+y)]
		}
	}
	return out
}

func (s *oledScreen) dim(dimmed bool) error {
	if dimmed == s.dimmed {
		return nil
	}
	level := byte(contrastNormal)
	if dimmed {
		level = contrastDimmed
	}
	if err := s.dev.SetContrast(level); err != nil {
		return err
	}
	s.dimmed = dimmed
	return nil
}

func (s *oledScreen) Close() error {
	err := s.dev.Halt()
	if cerr := s.bus.Close(); err == nil {
		err = cerr
	}
	return err
}

// refresh is what an e-paper update does.
type refresh int

const (
	refreshNone refresh = iota
	refreshPartial
	refreshFull
)

// refreshPolicy protects e-paper: updates only on change, at most one per
// minGap (bursts coalesce), a full refresh at most once per minFullGap,
// partial refreshes otherwise, and a full one once maxPartials partials
// have piled up ghosting.
type refreshPolicy struct {
	minGap, minFullGap time.Duration
	maxPartials        int

	updated, full time.Time // last update and last full refresh
	partials      int
	needFull      bool // no good full refresh yet, or the last update failed
}

func newPolicy(cfg Config) *refreshPolicy {
	return &refreshPolicy{minGap: cfg.EinkMinGap, minFullGap: cfg.EinkFullGap, maxPartials: cfg.EinkMaxPartials, needFull: true}
}

// next decides what to do with a changed picture at now.
func (p *refreshPolicy) next(now time.Time, canPartial bool) refresh {
	if !p.updated.IsZero() && now.Sub(p.updated) < p.minGap {
		return refreshNone
	}
	fullAllowed := p.full.IsZero() || now.Sub(p.full) >= p.minFullGap
	switch {
	case p.needFull || !canPartial:
		if fullAllowed {
			return refreshFull
		}
		return refreshNone
	case p.partials >= p.maxPartials && fullAllowed:
		return refreshFull
	}
	return refreshPartial
}

// done records an update attempt.
func (p *refreshPolicy) done(now time.Time, r refresh, err error) {
	p.updated = now
	if r == refreshFull {
		p.full = now
	}
	switch {
	case err != nil:
		p.needFull = true
	case r == refreshFull:
		p.needFull, p.partials = false, 0
	case r == refreshPartial:
		p.partials++
	}
}

type einkScreen struct {
	name    string
	size    image.Point
	full    func(context.Context, image.Image) error
	partial func(context.Context, image.Image) error // nil: full only
	halt    func() error
	closer  func() error
	policy  *refreshPolicy
	shown   []byte // pixels on the panel; nil when unknown
}

func (s *einkScreen) String() string    { return s.name }
func (s *einkScreen) Size() image.Point { return s.size }

func (s *einkScreen) show(ctx context.Context, img *image.Gray, now time.Time) error {
	if s.shown != nil && bytes.Equal(s.shown, img.Pix) {
		return nil
	}
	r := s.policy.next(now, s.partial != nil)
	var err error
	switch r {
	case refreshNone:
		return nil
	case refreshFull:
		err = s.full(ctx, img)
	case refreshPartial:
		err = s.partial(ctx, img)
	}
	s.policy.done(now, r, err)
	if err != nil {
		s.shown = nil
		return err // the driver's error names the panel
	}
	s.shown = append(s.shown[:0], img.Pix...)
	return nil
}

func (s *einkScreen) Close() error {
	err := s.halt()
	if cerr := s.closer(); err == nil {
		err = cerr
	}
	return err
}

// hdmiScreen copies changed frames to the framebuffer, and every
// redrawEvery anyway in case something else drew on it.
type hdmiScreen struct {
	dev     *fb.Dev
	console *fb.Console
	shown   []byte
	drawn   time.Time
}

const redrawEvery = 30 * time.Second

func (s *hdmiScreen) String() string    { return "hdmi " + s.dev.Info().Name }
func (s *hdmiScreen) Size() image.Point { return s.dev.Bounds().Size() }

func (s *hdmiScreen) show(_ context.Context, img *image.Gray, now time.Time) error {
	if s.shown != nil && bytes.Equal(s.shown, img.Pix) && now.Sub(s.drawn) < redrawEvery {
		return nil
	}
	if err := s.dev.Show(img); err != nil {
		return err
	}
	s.shown, s.drawn = append(s.shown[:0], img.Pix...), now
	return nil
}

func (s *hdmiScreen) Close() error {
	var err error
	if s.console != nil {
		err = s.console.Release()
	}
	if cerr := s.dev.Close(); err == nil {
		err = cerr
	}
	return err
}
