package oled_test

import (
	"bytes"
	"image"
	"testing"

	"periph.io/x/conn/v3/display"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/kibitzbox/kibitzbox/hardware/oled"
)

var _ display.Drawer = (*oled.Dev)(nil)

// testImage lights (0,0), (127,63) and a full-height-of-a-page bar at
// x=5, y=8..15.
func testImage() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 128, 64))
	img.Pix[img.PixOffset(0, 0)] = 0xFF
	img.Pix[img.PixOffset(127, 63)] = 0xFF
	for y := 8; y < 16; y++ {
		img.Pix[img.PixOffset(5, y)] = 0xFF
	}
	return img
}

// pageOps are the I2C writes for one page at column offset col.
func pageOps(addr uint16, page, col int, data []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x00, 0xB0 | byte(page), byte(col & 0x0F), 0x10 | byte(col>>4)}},
		{Addr: addr, W: append([]byte{0x40}, data...)},
	}
}

func expectedFrame(t *testing.T, chip oled.Chip, addr uint16) []i2ctest.IO {
	t.Helper()
	ops := []i2ctest.IO{{Addr: addr, W: append([]byte{0x00}, chip.Init()...)}}
	for p := 0; p < 8; p++ {
		row := make([]byte, 128)
		switch p {
		case 0:
			row[0] = 0x01 // (0,0): bit 0 of page 0
		case 1:
			row[5] = 0xFF // x=5, rows 8..15
		case 7:
			row[127] = 0x80 // (127,63): bit 7 of page 7
		}
		ops = append(ops, pageOps(addr, p, chip.ColumnOffset(), row)...)
	}
	return ops
}

func TestInitAndFrameBytes(t *testing.T) {
	for _, chip := range []oled.Chip{oled.SSD1306, oled.SH1106} {
		t.Run(chip.String(), func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: expectedFrame(t, chip, oled.Addr), DontPanic: true}
			d, err := oled.New(bus, oled.Addr, chip)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Show(testImage()); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOnlyChangedPagesAreSent(t *testing.T) {
	chip := oled.SSD1306
	ops := expectedFrame(t, chip, oled.AltAddr)
	// Second frame: one more pixel at (64, 40), page 5.
	row := make([]byte, 128)
	row[64] = 1 << (40 % 8)
	ops = append(ops, pageOps(oled.AltAddr, 5, 0, row)...)
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := oled.New(bus, oled.AltAddr, chip)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage()
	if err := d.Show(img); err != nil {
		t.Fatal(err)
	}
	img.Pix[img.PixOffset(64, 40)] = 0xFF
	if err := d.Show(img); err != nil {
		t.Fatal(err)
	}
	// Same image again: nothing on the bus.
	if err := d.Show(img); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestContrastAndPower(t *testing.T) {
	chip := oled.SH1106
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: oled.Addr, W: append([]byte{0x00}, chip.Init()...)},
		{Addr: oled.Addr, W: []byte{0x00, 0x81, 0x00}},
		{Addr: oled.Addr, W: []byte{0x00, 0xAE}},
		{Addr: oled.Addr, W: []byte{0x00, 0xAF}},
		{Addr: oled.Addr, W: []byte{0x00, 0x81, 0xFF}},
	}}
	d, err := oled.New(bus, oled.Addr, chip)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return d.SetContrast(0) },
		func() error { return d.SetOn(false) },
		func() error { return d.SetOn(true) },
		func() error { return d.SetContrast(255) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBusErrorResendsEverything(t *testing.T) {
	chip := oled.SSD1306
	ops := expectedFrame(t, chip, oled.Addr)
	// The first frame fails on page 3's data; the next Show starts over
	// with every page because the panel state is unknown.
	failing := append([]i2ctest.IO(nil), ops[:1+2*3+1]...)
	bus := &i2ctest.Playback{Ops: failing, DontPanic: true}
	d, err := oled.New(bus, oled.Addr, chip)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Show(testImage()); err == nil {
		t.Fatal("Show succeeded on a failing bus")
	}
	bus.Ops = append(bus.Ops, ops[1:]...)
	if err := d.Show(testImage()); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInitSequences(t *testing.T) {
	// The bytes that matter most on real modules.
	if s := oled.SSD1306.Init(); !bytes.Contains(s, []byte{0x8D, 0x14}) || !bytes.Contains(s, []byte{0x20, 0x02}) || s[len(s)-1] != 0xAF {
		t.Errorf("ssd1306 init lacks charge pump, page mode or display on: % X", s)
	}
	if s := oled.SH1106.Init(); !bytes.Contains(s, []byte{0xAD, 0x8B}) || bytes.Contains(s, []byte{0x8D, 0x14}) || s[len(s)-1] != 0xAF {
		t.Errorf("sh1106 init lacks the DC-DC converter or has the SSD1306 charge pump: % X", s)
	}
	if oled.SH1106.ColumnOffset() != 2 || oled.SSD1306.ColumnOffset() != 0 {
		t.Error("column offsets: want sh1106 2, ssd1306 0")
	}
}

func TestChipByName(t *testing.T) {
	for _, c := range []oled.Chip{oled.SSD1306, oled.SH1106} {
		if got, err := oled.ChipByName(c.String()); err != nil || got != c {
			t.Errorf("ChipByName(%q) = %v, %v", c, got, err)
		}
	}
	if _, err := oled.ChipByName("ssd1309"); err == nil {
		t.Error("ChipByName accepted ssd1309")
	}
	if _, err := oled.New(&i2ctest.Playback{DontPanic: true}, oled.Addr, oled.Chip(0)); err == nil {
		t.Error("New accepted the zero Chip")
	}
}

func TestProbe(t *testing.T) {
	present := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x3C, W: []byte{0x00}}}}
	if !oled.Probe(present, 0x3C) {
		t.Error("Probe missed a device at 0x3C")
	}
	absent := &i2ctest.Playback{DontPanic: true}
	if oled.Probe(absent, 0x3C) {
		t.Error("Probe found a device on an empty bus")
	}
}
