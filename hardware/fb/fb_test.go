package fb

import (
	"encoding/binary"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func varInfo(w, h, bpp uint32, r, g, b Bitfield) []byte {
	buf := make([]byte, 160)
	put := func(off int, v uint32) { binary.NativeEndian.PutUint32(buf[off:], v) }
	put(0, w)
	put(4, h)
	put(8, w)
	put(12, h)
	put(24, bpp)
	put(32, r.Offset)
	put(36, r.Length)
	put(44, g.Offset)
	put(48, g.Length)
	put(56, b.Offset)
	put(60, b.Length)
	return buf
}

func fixInfo(wordSize int, name string, memLen, lineLength uint32) []byte {
	buf := make([]byte, 80)
	copy(buf, name)
	binary.NativeEndian.PutUint32(buf[16+wordSize:], memLen)
	lineOff := 44
	if wordSize == 8 {
		lineOff = 48
	}
	binary.NativeEndian.PutUint32(buf[lineOff:], lineLength)
	return buf
}

func TestParseScreenInfo(t *testing.T) {
	for _, ws := range []int{4, 8} {
		var info Info
		if err := parseVar(varInfo(1920, 1080, 32, Bitfield{16, 8}, Bitfield{8, 8}, Bitfield{0, 8}), &info); err != nil {
			t.Fatal(err)
		}
		if err := parseFix(fixInfo(ws, "BCM2708 FB", 1920*1080*4, 7680), ws, &info); err != nil {
			t.Fatal(err)
		}
		if info.Name != "BCM2708 FB" || info.Width != 1920 || info.Height != 1080 || info.BitsPerPixel != 32 ||
			info.LineLength != 7680 || info.MemLen != 1920*1080*4 || info.Red != (Bitfield{16, 8}) {
			t.Errorf("word size %d: %+v", ws, info)
		}
		if err := info.validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestValidateRejectsBadGeometry(t *testing.T) {
	good := Info{Name: "x", Width: 640, Height: 480, BitsPerPixel: 16, LineLength: 1280, MemLen: 1280 * 480}
	bad := map[string]func(*Info){
		"8 bpp":       func(i *Info) { i.BitsPerPixel = 8 },
		"short line":  func(i *Info) { i.LineLength = 100 },
		"small mem":   func(i *Info) { i.MemLen = 1000 },
		"zero height": func(i *Info) { i.Height = 0 },
	}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range bad {
		i := good
		f(&i)
		if err := i.validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func grey(w, h int, v func(x, y int) uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[img.PixOffset(x, y)] = v(x, y)
		}
	}
	return img
}

func TestBlit32WithPaddedRows(t *testing.T) {
	info := Info{Width: 3, Height: 2, BitsPerPixel: 32, LineLength: 16, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}}
	dst := make([]byte, 32)
	for i := range dst {
		dst[i] = 0xAA // padding must stay untouched
	}
	img := grey(3, 2, func(x, y int) uint8 { return uint8(x*0x40 + y) })
	if err := Blit(dst, info, img); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			v := uint8(x*0x40 + y)
			p := dst[y*16+x*4:]
			if p[0] != v || p[1] != v || p[2] != v || p[3] != 0 {
				t.Errorf("pixel (%d,%d) = % X, want B=G=R=%#x", x, y, p[:4], v)
			}
		}
		if dst[y*16+12] != 0xAA {
			t.Errorf("row %d padding overwritten", y)
		}
	}
}

func TestBlit16RGB565(t *testing.T) {
	info := Info{Width: 2, Height: 1, BitsPerPixel: 16, LineLength: 4, Red: Bitfield{11, 5}, Green: Bitfield{5, 6}, Blue: Bitfield{0, 5}}
	dst := make([]byte, 4)
	if err := Blit(dst, info, grey(2, 1, func(x, y int) uint8 { return []uint8{0xFF, 0x00}[x] })); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint16(dst); got != 0xFFFF {
		t.Errorf("white = %#04x, want 0xFFFF", got)
	}
	if got := binary.LittleEndian.Uint16(dst[2:]); got != 0 {
		t.Errorf("black = %#04x, want 0", got)
	}
	if err := Blit(dst[:3], info, grey(2, 1, func(int, int) uint8 { return 0 })); err != ErrShort {
		t.Errorf("short buffer: err = %v", err)
	}
}

func TestOpenNotAFramebuffer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fb0")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "FBIOGET_VSCREENINFO") {
		t.Errorf("Open of a plain file: err = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open of a missing device succeeded")
	}
}

// BenchmarkBlit1080p measures one full-HD frame copy (the firmware
// framebuffer's default 32 bpp).
func BenchmarkBlit1080p(b *testing.B) {
	info := Info{Width: 1920, Height: 1080, BitsPerPixel: 32, LineLength: 7680, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}}
	dst := make([]byte, 7680*1080)
	img := grey(1920, 1080, func(x, y int) uint8 { return uint8(x ^ y) })
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		if err := Blit(dst, info, img); err != nil {
			b.Fatal(err)
		}
	}
}
