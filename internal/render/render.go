// Package render draws what the Kibitz Box screen shows — the Wi-Fi QR,
// the call QR, the network name and passphrase, who is in the call and
// whether the daemons are healthy — into a grey image of a panel's size.
// It knows panel sizes, not panels: drivers in hardware/ turn the image
// into their own pixel format. Light pixels are "paper" (lit on an OLED,
// white on e-ink); QR codes are always dark modules on a light field.
package render

import (
	"fmt"
	"image"
)

// The two grey levels every frame uses.
const (
	ink   uint8 = 0x00
	light uint8 = 0xFF
)

// Captions of the two codes; the numbers say which to scan first.
const (
	CaptionWiFi = "1 Join Wi-Fi"
	CaptionCall = "2 Open the call"
)

// Options vary a frame without changing what it says.
type Options struct {
	// Page selects the code on panels too small for both (the OLED):
	// they alternate, page 0 the Wi-Fi code and page 1 the call code.
	Page int
	// Shift moves the content right by this many pixels (taken modulo
	// MaxShift+1) on small panels, against OLED burn-in.
	Shift int
}

// MaxShift is the largest burn-in shift in pixels.
const MaxShift = 3

// Frame is a rendered screen.
type Frame struct {
	Image *image.Gray
	// QRs are the codes drawn, for tests and logs.
	QRs []QR
	// Pages is how many carousel pages this input has at this size (1
	// when both codes fit or there is at most one code).
	Pages int
}

// small reports whether the size gets the one-code-at-a-time layout.
func small(size image.Point) bool { return size.X < 200 || size.Y < 100 }

// Render draws in at size.
func Render(size image.Point, in Input, opt Options) (*Frame, error) {
	if size.X < 64 || size.Y < 32 {
		return nil, fmt.Errorf("render: panel %v too small", size)
	}
	if small(size) {
		return renderSmall(size, in, opt)
	}
	return renderWide(size, in)
}

// --- small panels (128×64 OLED): one code at a time, lit field ---

type page struct {
	payload string
	caption string
	lines   []string // under the caption
}

func renderSmall(size image.Point, in Input, opt Options) (*Frame, error) {
	img := image.NewGray(image.Rect(0, 0, size.X, size.Y))
	fillRect(img, img.Rect, ink)
	st := textStyle{font: font5x8, scale: 1}
	var pages []page
	if p := in.wifiPayload(); p != "" {
		var lines []string
		lines = append(lines, in.wifiName())
		if in.wpa2() {
			lines = append(lines, "pw "+in.wifiPassphrase())
		} else {
			lines = append(lines, "no password")
		}
		pages = append(pages, page{payload: p, caption: CaptionWiFi, lines: lines})
	}
	if p := in.callPayload(); p != "" {
		pages = append(pages, page{payload: p, caption: CaptionCall, lines: []string{in.shortAddress()}})
	}
	// The operator code gets a page of its own, after the codes guests
	// scan; there is no room for it beside a QR code.
	if c := in.operatorCode(); c != "" && len(pages) > 0 {
		pages = append(pages, page{caption: CaptionOperator, lines: append([]string{c}, in.operatorLines()...)})
	}
	frame := &Frame{Image: img, Pages: max(1, len(pages))}
	shift := ((opt.Shift % (MaxShift + 1)) + MaxShift + 1) % (MaxShift + 1)
	width := size.X - MaxShift
	left := shift

	healthVariants, warn := in.healthLines()

	if len(pages) == 0 {
		// Nothing to scan yet: say so across the whole panel.
		y := 0
		for _, l := range []string{"Kibitz Box", "starting…", ""} {
			st.draw(img, image.Pt(left, y), l, light)
			y += st.lineHeight()
		}
		for _, t := range []string{in.wifiTrouble(), in.callTrouble()} {
			if t == "" {
				continue
			}
			st.draw(img, image.Pt(left, y), st.fit(t, width), light)
			y += st.lineHeight()
		}
		drawBottom(img, st, left, width, size.Y, "", st.firstFit(width, healthVariants...), warn)
		return frame, nil
	}

	pg := pages[((opt.Page%len(pages))+len(pages))%len(pages)]
	if pg.payload == "" {
		drawOperatorPage(img, st, left, width, pg)
		return frame, nil
	}
	choice, err := chooseQR(pg.payload, size.Y, 1, 4)
	if err != nil {
		return nil, fmt.Errorf("render %v: %w", size, err)
	}
	qrBox := image.Rect(left, 0, left+choice.side(), size.Y)
	frame.QRs = append(frame.QRs, drawQR(img, qrBox, choice, pg.payload))

	// Text column right of the code.
	tx := left + choice.side() + 2
	tw := left + width - tx
	if tw < st.charWidth()*6 {
		return frame, nil // no room for text; the code matters more
	}
	lines := size.Y / st.lineHeight()
	y := 0
	// Caption as a lit bar so it reads as a heading.
	for _, l := range st.wrap(pg.caption, tw, 2) {
		fillRect(img, image.Rect(tx-1, y, tx+tw, y+st.lineHeight()), light)
		st.draw(img, image.Pt(tx, y), l, ink)
		y += st.lineHeight()
	}
	budget := lines - y/st.lineHeight() - 2 // two bottom lines
	for i, text := range pg.lines {
		n := budget
		if i < len(pg.lines)-1 {
			n = min(n, 2) // leave room for the passphrase
		}
		for _, l := range st.wrap(text, tw, max(n, 0)) {
			st.draw(img, image.Pt(tx, y), l, light)
			y += st.lineHeight()
			budget--
		}
	}
	live := st.firstFit(tw, in.liveLines()...)
	if in.Hub != nil && in.Hub.Air != nil && in.Hub.Air.VideoFull {
		live = st.firstFit(tw, "video full", "vid full")
	}
	drawBottom(img, st, tx, tw, size.Y, live, st.firstFit(tw, healthVariants...), warn)
	return frame, nil
}

// drawOperatorPage draws the operator code in double size under its
// caption, with where to enter it below.
func drawOperatorPage(img *image.Gray, st textStyle, left, width int, pg page) {
	fillRect(img, image.Rect(left, 0, left+width, st.lineHeight()), light)
	st.draw(img, image.Pt(left+1, 0), st.fit(pg.caption, width-1), ink)
	big := textStyle{font: font7x13, scale: 2}
	code := pg.lines[0]
	w := len(big.font.clean(code)) * big.charWidth()
	y := st.lineHeight() + 2
	big.draw(img, image.Pt(left+max(0, (width-w)/2), y), code, light)
	y += big.lineHeight() + 1
	for _, l := range pg.lines[1:] {
		st.draw(img, image.Pt(left, y), st.fit(l, width), light)
		y += st.lineHeight()
	}
}

// drawGauge draws an outlined bar filled to use (0–1) in ink.
func drawGauge(img *image.Gray, r image.Rectangle, use float64) {
	fillRect(img, r, ink)
	fillRect(img, r.Inset(1), light)
	w := int(float64(r.Dx()-2) * min(max(use, 0), 1))
	fillRect(img, image.Rect(r.Min.X+1, r.Min.Y+1, r.Min.X+1+w, r.Max.Y-1), ink)
}

// drawBottom draws the live and health lines on the last two text lines of
// a dark panel; a warning is drawn inverted so it stands out.
func drawBottom(img *image.Gray, st textStyle, x, width, bottom int, live, health string, warn bool) {
	y := bottom - 2*st.lineHeight()
	st.draw(img, image.Pt(x, y), live, light)
	y += st.lineHeight()
	if warn {
		fillRect(img, image.Rect(x-1, y, x+width, y+st.lineHeight()), light)
		st.draw(img, image.Pt(x, y), health, ink)
		return
	}
	st.draw(img, image.Pt(x, y), health, light)
}

// --- wide panels (e-ink, HDMI): both codes side by side, text column ---

// wideStyle is the type and spacing for a wide panel.
type wideStyle struct {
	text, bold textStyle
	gap        int // between lines
	margin     int
	maxModule  int
	minQuiet   int
	minColumn  int // text column width
}

func styleFor(size image.Point) wideStyle {
	if size.Y < 300 {
		return wideStyle{
			text: textStyle{font5x8, 1}, bold: textStyle{font5x8, 1},
			gap: 1, margin: 2, maxModule: 4, minQuiet: 2, minColumn: 60,
		}
	}
	scale := max(1, size.Y/200)
	return wideStyle{
		text: textStyle{font7x13, scale}, bold: textStyle{font7x13B, scale},
		gap: scale * 2, margin: size.Y / 30, maxModule: 64, minQuiet: 4, minColumn: size.X * 3 / 10,
	}
}

type code struct {
	payload, caption string
}

func renderWide(size image.Point, in Input) (*Frame, error) {
	img := image.NewGray(image.Rect(0, 0, size.X, size.Y))
	fillRect(img, img.Rect, light)
	ws := styleFor(size)
	frame := &Frame{Image: img, Pages: 1}

	var codes []code
	if p := in.wifiPayload(); p != "" {
		codes = append(codes, code{p, CaptionWiFi})
	}
	if p := in.callPayload(); p != "" {
		codes = append(codes, code{p, CaptionCall})
	}

	if len(codes) == 0 {
		drawStarting(img, ws)
	}
	captionH := ws.bold.lineHeight() + ws.gap
	choices, err := fitRow(codes, size.X-ws.minColumn-2*ws.margin, size.Y-captionH-ws.margin, ws)
	if err != nil {
		return nil, fmt.Errorf("render %v: %w", size, err)
	}
	// One row: codes centred on one line, captions on one baseline.
	rowH := 0
	for _, c := range choices {
		rowH = max(rowH, c.side())
	}
	rowTop := (size.Y - rowH - captionH) / 2
	x := ws.margin
	for i, c := range choices {
		side := c.side()
		top := rowTop + (rowH-side)/2
		q := drawQR(img, image.Rect(x, top, x+side, top+side), c, codes[i].payload)
		frame.QRs = append(frame.QRs, q)
		caption := CaptionWiFi
		if codes[i].caption == CaptionCall {
			caption = ws.bold.firstFit(side, CaptionCall, "2 Open call", "2 Call")
		}
		caption = ws.bold.fit(caption, side)
		cw := len(ws.bold.font.clean(caption)) * ws.bold.charWidth()
		ws.bold.draw(img, image.Pt(x+(side-cw)/2, rowTop+rowH+ws.gap), caption, ink)
		x += side
	}
	if len(choices) > 0 {
		x += ws.margin
	}
	drawColumn(img, ws, image.Rect(x, ws.margin, size.X-ws.margin, size.Y-ws.margin), in)
	return frame, nil
}

// drawStarting fills the empty code area, when neither code is ready,
// with the name and "starting…" in double size.
func drawStarting(img *image.Gray, ws wideStyle) {
	big := textStyle{ws.bold.font, ws.bold.scale * 2}
	area := image.Rect(ws.margin, 0, img.Rect.Dx()-ws.margin, img.Rect.Dy())
	lines := []string{"Kibitz Box", "starting…"}
	y := area.Min.Y + (area.Dy()-len(lines)*(big.lineHeight()+ws.gap))/2
	for _, l := range lines {
		l = big.fit(l, area.Dx())
		w := len(big.font.clean(l)) * big.charWidth()
		big.draw(img, image.Pt(area.Min.X+(area.Dx()-w)/2, y), l, ink)
		y += big.lineHeight() + ws.gap
	}
}

// fitRow picks one module size for all codes (they look like a pair) that
// is as large as possible with the row within maxW×maxH.
func fitRow(codes []code, maxW, maxH int, ws wideStyle) ([]qrChoice, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	syms := make([][]qrSymbol, len(codes))
	for i, c := range codes {
		for _, l := range levels {
			if s, err := encodeQR(c.payload, l.name); err == nil {
				syms[i] = append(syms[i], s)
			}
		}
		if len(syms[i]) == 0 {
			return nil, fmt.Errorf("QR %s: %w", short(c.payload), ErrQRTooBig)
		}
	}
	for module := ws.maxModule; module >= 1; module-- {
		out := make([]qrChoice, len(codes))
		width, ok := 0, true
		for i := range codes {
			// Strongest level that fits at this module size.
			var pick *qrSymbol
			for j := range syms[i] {
				if (syms[i][j].size()+2*ws.minQuiet)*module <= maxH {
					pick = &syms[i][j]
				}
			}
			if pick == nil {
				ok = false
				break
			}
			out[i] = qrChoice{sym: *pick, module: module, quiet: ws.minQuiet}
			width += out[i].side()
		}
		if !ok || width > maxW {
			continue
		}
		// Spend spare room on quiet zones, up to the standard 4 modules.
		for grown := true; grown; {
			grown = false
			for i := range out {
				if out[i].quiet < 4 && width+2*module <= maxW && out[i].side()+2*module <= maxH {
					out[i].quiet++
					width += 2 * module
					grown = true
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%d codes in %d×%d px: %w", len(codes), maxW, maxH, ErrQRTooBig)
}

// drawColumn writes the network, the address and the live and health
// lines into r.
func drawColumn(img *image.Gray, ws wideStyle, r image.Rectangle, in Input) {
	lh := ws.text.lineHeight() + ws.gap
	type line struct {
		text string
		bold bool
	}
	var top []line
	add := func(bold bool, texts ...string) {
		for _, t := range texts {
			top = append(top, line{t, bold})
		}
	}
	wrapN := func(s string, n int) []string { return ws.text.wrap(s, r.Dx(), n) }
	if t := in.wifiTrouble(); t != "" {
		add(true, wrapN(t, 2)...)
	} else {
		add(true, "Wi-Fi")
		add(false, wrapN(in.wifiName(), 3)...)
		if in.wpa2() {
			add(true, "Password")
			add(false, wrapN(in.wifiPassphrase(), 3)...)
		} else {
			add(false, wrapN("open, no password", 2)...)
		}
	}
	add(false, "")
	if t := in.callTrouble(); t != "" {
		add(true, wrapN(t, 2)...)
	} else {
		add(true, "Call")
		add(false, wrapN(in.shortAddress(), 2)...)
	}

	live := ws.text.lines(r.Dx(), 2, in.liveLines()...)
	// The air gauge: how much of the budget the guests' media use, as
	// text and a bar under it.
	var airText []string
	gauge := 0
	if al := in.airLines(); al != nil {
		airText, gauge = ws.text.lines(r.Dx(), 2, al...), 1
	}
	hv, warn := in.healthLines()
	health := ws.text.lines(r.Dx(), 2, hv...)
	// The operator code sits in the bottom corner, small: guests scan the
	// codes, the operator reads this.
	var op []string
	if c := in.operatorCode(); c != "" {
		op = ws.text.lines(r.Dx(), 1, "operator "+c, "op "+c)
		if in.Hub.OperatorLockout {
			op = append(op, ws.text.lines(r.Dx(), 1, "tries locked 1 min", "locked")...)
		}
	}
	bottomLines := len(live) + len(airText) + gauge + len(health) + len(op)
	room := (r.Dy()+ws.gap)/lh - bottomLines
	y := r.Min.Y
	for i, l := range top {
		if i >= room {
			break
		}
		st := ws.text
		if l.bold {
			st = ws.bold
		}
		w := st.draw(img, image.Pt(r.Min.X, y), l.text, ink)
		if l.bold && ws.bold == ws.text {
			// No bold face this small: underline labels instead.
			fillRect(img, image.Rect(r.Min.X, y+st.lineHeight(), r.Min.X+w-1, y+st.lineHeight()+1), ink)
		}
		y += lh
	}
	y = r.Max.Y - bottomLines*lh + ws.gap
	for _, l := range live {
		ws.text.draw(img, image.Pt(r.Min.X, y), l, ink)
		y += lh
	}
	for _, l := range airText {
		ws.text.draw(img, image.Pt(r.Min.X, y), l, ink)
		y += lh
	}
	if gauge > 0 {
		use, _ := in.airUse()
		bar := image.Rect(r.Min.X, y, r.Max.X, y+ws.text.lineHeight()/2)
		drawGauge(img, bar, use)
		y += lh
	}
	for _, l := range health {
		if warn {
			fillRect(img, image.Rect(r.Min.X-1, y-ws.gap/2, r.Max.X, y+ws.text.lineHeight()+(ws.gap+1)/2), ink)
			ws.text.draw(img, image.Pt(r.Min.X, y), l, light)
		} else {
			ws.text.draw(img, image.Pt(r.Min.X, y), l, ink)
		}
		y += lh
	}
	for _, l := range op {
		ws.text.draw(img, image.Pt(r.Min.X, y), l, ink)
		y += lh
	}
}
