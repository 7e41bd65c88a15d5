// Package mono turns images into the 1-bit decisions monochrome panels
// need (a pixel is light when its luma is at least half), and packs
// pictures into the 1-bit RAM planes of the e-paper controllers (Layout),
// which differ only in where a pixel lands.
package mono

import (
	"image"
	"image/color"
)

// Light reports whether the pixel of img at (x, y) is light. Points
// outside img count as dark.
func Light(img image.Image, x, y int) bool {
	if !(image.Point{x, y}).In(img.Bounds()) {
		return false
	}
	if g, ok := img.(*image.Gray); ok {
		return g.Pix[g.PixOffset(x, y)] >= 0x80
	}
	return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y >= 0x80
}
