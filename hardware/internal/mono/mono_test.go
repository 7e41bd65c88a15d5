package mono

import (
	"image"
	"image/color"
	"testing"
)

func TestLight(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 2, 1))
	g.Pix[0], g.Pix[1] = 0x7F, 0x80
	if Light(g, 0, 0) || !Light(g, 1, 0) || Light(g, 5, 0) {
		t.Error("Light on *image.Gray: threshold at 0x80, outside is dark")
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 1, 1))
	rgba.Set(0, 0, color.RGBA{255, 255, 255, 255})
	if !Light(rgba, 0, 0) {
		t.Error("white RGBA pixel is not light")
	}
}

// bit reports whether RAM (row, col) of frame is white.
func bit(l Layout, frame []byte, row, col int) bool {
	return frame[row*l.BytesPerRow+col/8]&(0x80>>(col%8)) != 0
}

// dark returns a white w×h picture with the given pixels black.
func dark(w, h int, pts ...image.Point) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	for _, p := range pts {
		img.Pix[img.PixOffset(p.X, p.Y)] = 0
	}
	return img
}

// Each black picture pixel lands on exactly the RAM bit the layout
// names, by hand-computed positions for two layouts of the kind the
// drivers use; everything else stays white.
func TestPackPlacesEachPixel(t *testing.T) {
	// 5×3 picture, RAM 5 rows of 2 bytes.
	reversedRows := Layout{Width: 5, Height: 3, Rows: 5, BytesPerRow: 2, ReverseRows: true}
	reversedCols := Layout{Width: 5, Height: 3, Rows: 5, BytesPerRow: 2, FirstColumn: 12, ReverseColumns: true}
	for _, c := range []struct {
		name     string
		l        Layout
		px       image.Point
		row, col int
	}{
		{"rows reversed, origin", reversedRows, image.Pt(0, 0), 4, 0},
		{"rows reversed, far corner", reversedRows, image.Pt(4, 2), 0, 2},
		{"rows reversed, middle", reversedRows, image.Pt(1, 2), 3, 2},
		{"columns reversed, origin", reversedCols, image.Pt(0, 0), 0, 12},
		{"columns reversed, far corner", reversedCols, image.Pt(4, 2), 4, 10},
		{"columns reversed, middle", reversedCols, image.Pt(2, 1), 2, 11},
	} {
		frame := c.l.Pack(dark(5, 3, c.px), false)
		if len(frame) != c.l.FrameSize() || c.l.FrameSize() != 10 {
			t.Fatalf("%s: frame of %d bytes", c.name, len(frame))
		}
		for row := 0; row < c.l.Rows; row++ {
			for col := 0; col < c.l.BytesPerRow*8; col++ {
				if want := row != c.row || col != c.col; bit(c.l, frame, row, col) != want {
					t.Errorf("%s: RAM (%d,%d) white=%v", c.name, row, col, !want)
				}
			}
		}
		// Turned, the opposite pixel of the picture lands there.
		opposite := image.Pt(c.l.Width-1-c.px.X, c.l.Height-1-c.px.Y)
		turned := c.l.Pack(dark(5, 3, opposite), true)
		if bit(c.l, turned, c.row, c.col) {
			t.Errorf("%s: rotate180 of %v does not land on (%d,%d)", c.name, opposite, c.row, c.col)
		}
	}
}

// A picture that does not start at (0,0) is read from its own origin.
func TestPackUsesImageBounds(t *testing.T) {
	l := Layout{Width: 5, Height: 3, Rows: 5, BytesPerRow: 2}
	img := dark(7, 5, image.Pt(2, 2)).SubImage(image.Rect(2, 2, 7, 5))
	frame := l.Pack(img, false)
	if bit(l, frame, 0, 0) || !bit(l, frame, 1, 0) {
		t.Error("sub-image origin not honoured")
	}
}
