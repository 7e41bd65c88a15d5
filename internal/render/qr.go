package render

import (
	"errors"
	"fmt"
	"image"

	qrcode "github.com/skip2/go-qrcode"
)

// QR describes one QR code drawn into a frame.
type QR struct {
	Payload string
	// Rect is the square the code occupies including its quiet zone, all
	// of it light pixels.
	Rect image.Rectangle
	// Version is the QR version (1–40), Level the error-correction level
	// ("L", "M", "Q", "H"), Module the size of one module in pixels, Quiet
	// the quiet zone in modules.
	Version int
	Level   string
	Module  int
	Quiet   int
}

// qrSymbol is an encoded code before placement.
type qrSymbol struct {
	modules [][]bool // [y][x], true = dark, no border
	version int
	level   string
}

func (s qrSymbol) size() int { return len(s.modules) }

var levels = []struct {
	name  string
	level qrcode.RecoveryLevel
}{{"L", qrcode.Low}, {"M", qrcode.Medium}}

// Q and H are left out on purpose: a screen does not get torn or stained
// like paper, so their extra redundancy only costs module size, and a
// skip2 Q symbol (WIFI:T:nopass;S:Kibitz-7F3A;; at v3-Q) failed to
// decode in our tests.

// encodeQR encodes payload at the given level. skip2/go-qrcode ignores a
// DisableBorder set after the first Bitmap call, so it is set right after
// New; it can log.Panic on internal errors, which must not kill the
// display.
func encodeQR(payload, level string) (sym qrSymbol, err error) {
	if len(payload) > maxPayload {
		return qrSymbol{}, fmt.Errorf("QR %s: %d bytes: %w", short(payload), len(payload), ErrQRTooBig)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("encode QR %s: panic: %v", short(payload), r)
		}
	}()
	for _, l := range levels {
		if l.name != level {
			continue
		}
		q, err := qrcode.New(payload, l.level)
		if err != nil {
			return qrSymbol{}, fmt.Errorf("encode QR %s level %s: %w", short(payload), level, err)
		}
		q.DisableBorder = true
		return qrSymbol{modules: q.Bitmap(), version: q.VersionNumber, level: level}, nil
	}
	return qrSymbol{}, fmt.Errorf("encode QR: unknown level %q", level)
}

// maxPayload bounds what we try to encode: longer codes are unreadable
// on any of our screens, and encoding them takes long.
const maxPayload = 600

// short quotes the start of a payload for errors and logs.
func short(payload string) string {
	if r := []rune(payload); len(r) > 40 {
		return fmt.Sprintf("%q…", string(r[:40]))
	}
	return fmt.Sprintf("%q", payload)
}

// qrChoice is a symbol with the module size and quiet zone chosen for a
// box.
type qrChoice struct {
	sym    qrSymbol
	module int
	quiet  int
}

// side is the width of the code including its quiet zone, in pixels.
func (c qrChoice) side() int { return (c.sym.size() + 2*c.quiet) * c.module }

// ErrQRTooBig reports a payload too long to draw readably at the size.
var ErrQRTooBig = errors.New("QR code does not fit")

// chooseQR picks the error-correction level and module size for a code
// that must fit in a side×side square with at least minQuiet modules of
// quiet zone. Bigger modules matter most for a phone camera at arm's
// length, so the largest module size wins; among equal sizes the higher
// error-correction level wins (it copes with glare and smudges). The
// module size is capped at maxModule.
func chooseQR(payload string, side, minQuiet, maxModule int) (qrChoice, error) {
	var best qrChoice
	for _, l := range levels {
		sym, err := encodeQR(payload, l.name)
		if err != nil {
			continue
		}
		module := min(side/(sym.size()+2*minQuiet), maxModule)
		if module < 1 {
			continue
		}
		if module >= best.module { // later levels are stronger
			best = qrChoice{sym: sym, module: module}
		}
	}
	if best.module == 0 {
		return qrChoice{}, fmt.Errorf("QR %s in %d px: %w", short(payload), side, ErrQRTooBig)
	}
	// Spend leftover space on a wider quiet zone, up to the standard 4.
	best.quiet = min(4, (side/best.module-best.sym.size())/2)
	return best, nil
}

// drawQR draws c centred in box (light quiet zone, dark modules) and
// returns where it went.
func drawQR(img *image.Gray, box image.Rectangle, c qrChoice, payload string) QR {
	side := c.side()
	min := image.Pt(box.Min.X+(box.Dx()-side)/2, box.Min.Y+(box.Dy()-side)/2)
	r := image.Rectangle{Min: min, Max: min.Add(image.Pt(side, side))}
	fillRect(img, r, light)
	origin := r.Min.Add(image.Pt(c.quiet*c.module, c.quiet*c.module))
	for y, row := range c.sym.modules {
		for x, dark := range row {
			if dark {
				p := origin.Add(image.Pt(x*c.module, y*c.module))
				fillRect(img, image.Rect(p.X, p.Y, p.X+c.module, p.Y+c.module), ink)
			}
		}
	}
	return QR{Payload: payload, Rect: r, Version: c.sym.version, Level: c.sym.level, Module: c.module, Quiet: c.quiet}
}
