package mono

import "image"

// Layout describes a controller's 1-bit RAM plane and where a landscape
// picture lands in it. Both e-paper controllers here (SSD1680 on the
// Waveshare HAT, SSD1608 on the Inky pHAT) keep the panel in portrait:
// picture column x becomes a RAM row and picture row y a RAM column.
// Bytes hold 8 columns, most significant bit first; a set bit is white.
type Layout struct {
	// Width and Height are the picture's size.
	Width, Height int
	// Rows and BytesPerRow are the RAM plane's size.
	Rows, BytesPerRow int
	// ReverseRows puts picture column x at RAM row Rows-1-x instead of x.
	ReverseRows bool
	// Column 0 of the picture (its top row) lands at RAM column
	// FirstColumn; the following rows go up, or down with ReverseColumns.
	FirstColumn    int
	ReverseColumns bool
}

// FrameSize is the number of bytes of one RAM plane.
func (l Layout) FrameSize() int { return l.Rows * l.BytesPerRow }

// Pack converts img (its top-left Width×Height, dark pixels black) into
// the RAM plane; RAM outside the picture stays white. rotate180 turns the
// picture for a panel mounted the other way up.
func (l Layout) Pack(img image.Image, rotate180 bool) []byte {
	buf := make([]byte, l.FrameSize())
	for i := range buf {
		buf[i] = 0xFF
	}
	b := img.Bounds()
	for y := 0; y < l.Height; y++ {
		for x := 0; x < l.Width; x++ {
			sx, sy := x, y
			if rotate180 {
				sx, sy = l.Width-1-x, l.Height-1-y
			}
			if Light(img, b.Min.X+sx, b.Min.Y+sy) {
				continue
			}
			row, col := x, l.FirstColumn+y
			if l.ReverseRows {
				row = l.Rows - 1 - x
			}
			if l.ReverseColumns {
				col = l.FirstColumn - y
			}
			buf[row*l.BytesPerRow+col/8] &^= 0x80 >> (col % 8)
		}
	}
	return buf
}
