// Package oled drives 128×64 monochrome OLED controllers of the SSD1306
// family over I2C: the frame layout, page writes, contrast and display
// on/off they share. The controllers differ only in their init sequence
// and column offset; they are values of Chip (SSD1306, SH1106).
package oled

import (
	"bytes"
	"fmt"
	"image"
	"image/color"

	"periph.io/x/conn/v3/i2c"

	"github.com/kibitzbox/kibitzbox/hardware/internal/mono"
)

// Control bytes: the first byte of every I2C write says whether the rest
// are commands or display data.
const (
	controlCommands = 0x00
	controlData     = 0x40
)

// Commands shared by the family.
const (
	CmdContrast   = 0x81
	CmdDisplayOff = 0xAE
	CmdDisplayOn  = 0xAF
	CmdPageStart  = 0xB0 // | page
	CmdColumnLow  = 0x00 // | low nibble
	CmdColumnHigh = 0x10 // | high nibble
)

// Addresses the modules use (SA0 low / high).
const (
	Addr    = 0x3C
	AltAddr = 0x3D
)

// Width and Height of the panels supported.
const (
	Width  = 128
	Height = 64
	pages  = Height / 8
)

// Chip is one controller of the family.
type Chip int

// The supported controllers.
const (
	// SSD1306 is the usual 0.96" 128×64 module with the internal charge
	// pump (the 3.3 V breakouts).
	SSD1306 Chip = iota + 1
	// SH1106 is the common 1.3" module. Its RAM is 132 columns wide with
	// the panel at column 2, and it only has page addressing.
	SH1106
)

// ChipByName returns the chip called name ("ssd1306" or "sh1106").
func ChipByName(name string) (Chip, error) {
	for _, c := range []Chip{SSD1306, SH1106} {
		if c.String() == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("OLED controller %q: want ssd1306 or sh1106", name)
}

// String is the chip's name as the --panel flag spells it.
func (c Chip) String() string {
	switch c {
	case SSD1306:
		return "ssd1306"
	case SH1106:
		return "sh1106"
	}
	return fmt.Sprintf("oled.Chip(%d)", int(c))
}

// ColumnOffset is where the panel's first column sits in the controller's
// RAM (2 on the SH1106, whose RAM is 132 wide).
func (c Chip) ColumnOffset() int {
	if c == SH1106 {
		return 2
	}
	return 0
}

// Init is the power-up command stream, sent once to bring the panel up.
// Both use page addressing mode, so frames are written the same way.
func (c Chip) Init() []byte {
	if c == SH1106 {
		return []byte{
			0xAE,       // display off
			0xD5, 0x80, // clock divide ratio / oscillator
			0xA8, 0x3F, // multiplex ratio: 64 rows
			0xD3, 0x00, // display offset 0
			0x40,       // start line 0
			0xAD, 0x8B, // DC-DC converter on (the SH1106 has no charge pump command)
			0xA1,       // segment remap
			0xC8,       // COM scan from COM63 down
			0xDA, 0x12, // COM pins: alternative
			0x81, 0xCF, // contrast
			0xD9, 0x22, // pre-charge period (reset value)
			0xDB, 0x40, // VCOM deselect level
			0xA4, // show RAM content
			0xA6, // normal (not inverted)
			0xAF, // display on
		}
	}
	return []byte{
		0xAE,       // display off
		0xD5, 0x80, // clock divide ratio / oscillator
		0xA8, 0x3F, // multiplex ratio: 64 rows
		0xD3, 0x00, // display offset 0
		0x40,       // start line 0
		0x8D, 0x14, // charge pump on
		0x20, 0x02, // page addressing mode
		0xA1,       // segment remap: column 127 is SEG0
		0xC8,       // COM scan from COM63 down
		0xDA, 0x12, // COM pins: alternative, no remap (128×64)
		0x81, 0xCF, // contrast
		0xD9, 0xF1, // pre-charge period
		0xDB, 0x40, // VCOMH deselect level
		0xA4, // show RAM content
		0xA6, // normal (not inverted)
		0x2E, // scrolling off
		0xAF, // display on
	}
}

// Dev is one panel on an I2C bus.
type Dev struct {
	bus  i2c.Bus
	addr uint16
	chip Chip
	// shown is the frame in panel RAM layout (page-major, one byte per
	// column holding 8 vertical pixels, bit 0 on top); nil until the first
	// frame, so the first Draw writes every page.
	shown []byte
	next  []byte
	on    bool
}

// New initialises the panel at addr with chip's sequence.
func New(bus i2c.Bus, addr uint16, chip Chip) (*Dev, error) {
	d := &Dev{bus: bus, addr: addr, chip: chip, next: make([]byte, Width*pages)}
	if chip != SSD1306 && chip != SH1106 {
		return nil, fmt.Errorf("%v: not a supported OLED controller", chip)
	}
	if err := d.command(chip.Init()...); err != nil {
		return nil, fmt.Errorf("%s at %#x: init: %w", chip, addr, err)
	}
	d.on = true
	return d, nil
}

func (d *Dev) String() string { return fmt.Sprintf("%s@%#x", d.chip, d.addr) }

// ColorModel is 1-bit grey.
func (d *Dev) ColorModel() color.Model { return color.GrayModel }

// Bounds is the panel size.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, Width, Height) }

func (d *Dev) command(cmds ...byte) error {
	return d.bus.Tx(d.addr, append([]byte{controlCommands}, cmds...), nil)
}

// SetContrast sets the brightness (0 dimmest, 255 brightest).
func (d *Dev) SetContrast(level byte) error {
	if err := d.command(CmdContrast, level); err != nil {
		return fmt.Errorf("%s: contrast %d: %w", d, level, err)
	}
	return nil
}

// SetOn turns the panel on or off; RAM is kept while it is off.
func (d *Dev) SetOn(on bool) error {
	cmd := byte(CmdDisplayOff)
	if on {
		cmd = CmdDisplayOn
	}
	if err := d.command(cmd); err != nil {
		return fmt.Errorf("%s: display on=%v: %w", d, on, err)
	}
	d.on = on
	return nil
}

// Halt turns the panel off.
func (d *Dev) Halt() error { return d.SetOn(false) }

// Show displays img (light pixels lit), aligned at the panel's origin.
func (d *Dev) Show(img image.Image) error {
	return d.Draw(d.Bounds(), img, img.Bounds().Min)
}

// Draw implements periph's display.Drawer: src from sp lands on r; the
// rest of the panel keeps its content. Only pages that changed are sent.
func (d *Dev) Draw(r image.Rectangle, src image.Image, sp image.Point) error {
	r = r.Intersect(d.Bounds())
	if d.shown != nil {
		copy(d.next, d.shown)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i, bit := x+(y/8)*Width, byte(1)<<(y%8)
			if mono.Light(src, sp.X+x-r.Min.X, sp.Y+y-r.Min.Y) {
				d.next[i] |= bit
			} else {
				d.next[i] &^= bit
			}
		}
	}
	for p := 0; p < pages; p++ {
		row := d.next[p*Width : (p+1)*Width]
		if d.shown != nil && bytes.Equal(row, d.shown[p*Width:(p+1)*Width]) {
			continue
		}
		if err := d.writePage(p, row); err != nil {
			d.shown = nil // unknown panel state: resend everything next time
			return err
		}
	}
	if d.shown == nil {
		d.shown = make([]byte, len(d.next))
	}
	copy(d.shown, d.next)
	return nil
}

// writePage sends one page in page addressing mode, which both chips
// support (the SH1106 has nothing else).
func (d *Dev) writePage(p int, row []byte) error {
	col := d.chip.ColumnOffset()
	if err := d.command(CmdPageStart|byte(p), CmdColumnLow|byte(col&0x0F), CmdColumnHigh|byte(col>>4)); err != nil {
		return fmt.Errorf("%s: page %d address: %w", d, p, err)
	}
	if err := d.bus.Tx(d.addr, append([]byte{controlData}, row...), nil); err != nil {
		return fmt.Errorf("%s: page %d data: %w", d, p, err)
	}
	return nil
}

// Probe reports whether a device acknowledges at addr: it sends a lone
// command control byte, which an OLED controller ignores. (An empty write
// would not touch the bus on Linux.)
func Probe(bus i2c.Bus, addr uint16) bool {
	return bus.Tx(addr, []byte{controlCommands}, nil) == nil
}
