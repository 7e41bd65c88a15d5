package render

import (
	"image"
	"strings"
	"unicode"
)

// bitmapFont is a fixed-width 1-bit font. Each glyph is one byte per row,
// most significant bit leftmost, so widths up to 8 pixels.
type bitmapFont struct {
	width, height, ascent int
	glyphs                map[rune]string
}

// clean makes s drawable with f: control characters and runes the font
// lacks become '?', combining marks are dropped (they would otherwise each
// become a '?', and the base letter alone reads better).
func (f *bitmapFont) clean(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			r = ' '
		case unicode.IsControl(r):
			r = '?'
		}
		if _, ok := f.glyphs[r]; !ok {
			r = '?'
		}
		out = append(out, r)
	}
	return out
}

// textStyle is a font drawn at an integer scale.
type textStyle struct {
	font  *bitmapFont
	scale int
}

func (t textStyle) charWidth() int  { return t.font.width * t.scale }
func (t textStyle) lineHeight() int { return t.font.height * t.scale }

// columns is how many characters fit in width pixels.
func (t textStyle) columns(width int) int { return width / t.charWidth() }

// draw writes s with its top-left corner at pt in colour v and returns the
// width drawn. Pixels outside img are clipped.
func (t textStyle) draw(img *image.Gray, pt image.Point, s string, v uint8) int {
	runes := t.font.clean(s)
	x := pt.X
	for _, r := range runes {
		g := t.font.glyphs[r]
		for row := 0; row < len(g); row++ {
			bits := g[row]
			for col := 0; col < t.font.width; col++ {
				if bits&(0x80>>col) == 0 {
					continue
				}
				fillRect(img, image.Rect(x+col*t.scale, pt.Y+row*t.scale, x+(col+1)*t.scale, pt.Y+(row+1)*t.scale), v)
			}
		}
		x += t.charWidth()
	}
	return x - pt.X
}

// fit shortens s with an ellipsis so it takes at most width pixels.
func (t textStyle) fit(s string, width int) string {
	runes := t.font.clean(s)
	n := t.columns(width)
	if len(runes) <= n {
		return string(runes)
	}
	if n <= 1 {
		return string(runes[:max(n, 0)])
	}
	return string(runes[:n-1]) + "…"
}

// wrap breaks s into at most maxLines lines of width pixels, at spaces
// where it can and mid-word where it must (SSIDs and passphrases have no
// spaces to break at). The last line is shortened with an ellipsis when s
// does not fit.
func (t textStyle) wrap(s string, width, maxLines int) []string {
	n := t.columns(width)
	if n < 1 || maxLines < 1 {
		return nil
	}
	runes := t.font.clean(s)
	var lines []string
	for len(runes) > 0 && len(lines) < maxLines {
		if len(runes) <= n {
			lines = append(lines, string(runes))
			runes = nil
			break
		}
		cut := n
		// Prefer a space, else a hyphen, in the last two thirds of the
		// line.
		for i := n; i > n/3; i-- {
			if runes[i] == ' ' {
				cut = i
				break
			}
			if runes[i-1] == '-' && cut == n {
				cut = i
			}
		}
		line := strings.TrimRight(string(runes[:cut]), " ")
		lines = append(lines, line)
		runes = runes[cut:]
		for len(runes) > 0 && runes[0] == ' ' {
			runes = runes[1:]
		}
	}
	if len(runes) > 0 && len(lines) > 0 {
		last := []rune(lines[len(lines)-1])
		if len(last) >= n {
			last = last[:n-1]
		}
		lines[len(lines)-1] = string(last) + "…"
	}
	return lines
}

// firstFit returns the first of the variants that fits in width pixels,
// or the last one shortened.
func (t textStyle) firstFit(width int, variants ...string) string {
	for _, v := range variants {
		if len(t.font.clean(v)) <= t.columns(width) {
			return v
		}
	}
	return t.fit(variants[len(variants)-1], width)
}

// lines returns the first variant that fits on one line of width pixels,
// or else the last variant wrapped onto at most maxLines lines.
func (t textStyle) lines(width, maxLines int, variants ...string) []string {
	for _, v := range variants {
		if len(t.font.clean(v)) <= t.columns(width) {
			return []string{v}
		}
	}
	return t.wrap(variants[len(variants)-1], width, maxLines)
}

func fillRect(img *image.Gray, r image.Rectangle, v uint8) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := range row {
			row[i] = v
		}
	}
}
