// Package inky drives the Pimoroni Inky pHAT with the SSD1608 controller
// (250×122, black/white plus red or yellow; we draw black and white only)
// and reads the ID EEPROM that identifies the board.
package inky

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/kibitzbox/kibitzbox/hardware/internal/epdlink"
	"github.com/kibitzbox/kibitzbox/hardware/internal/mono"
)

// Geometry: the controller RAM is 136 columns (17 bytes a row) by 250
// rows; the 122 visible columns start at column 8 of the rotated RAM
// (Pimoroni's offset 6 after rotation).
const (
	Width       = 250
	Height      = 122
	ramCols     = 136
	ramRows     = 250
	bytesPerRow = ramCols / 8
	FrameSize   = bytesPerRow * ramRows // 4250
)

// EEPROMAddr is the I2C address of the board's ID EEPROM.
const EEPROMAddr = 0x50

// Display variants of the SSD1608 pHATs, as stored in the EEPROM.
const (
	VariantBlackSSD1608  = 10
	VariantRedSSD1608    = 11
	VariantYellowSSD1608 = 12
)

// Info is the EEPROM's description of the board.
type Info struct {
	Width, Height  int
	Colour         int // 1 black, 2 red, 3 yellow
	PCBVariant     int
	DisplayVariant int
	Written        string // when the EEPROM was programmed
}

// Supported reports whether this package drives the board.
func (i Info) Supported() bool {
	return i.DisplayVariant >= VariantBlackSSD1608 && i.DisplayVariant <= VariantYellowSSD1608
}

// ErrNoEEPROM reports that nothing answered at 0x50.
var ErrNoEEPROM = errors.New("no Inky EEPROM at 0x50")

// ReadEEPROM reads and decodes the 29-byte record at address 0: little-
// endian width and height (uint16), colour, PCB variant, display variant
// (bytes), then a length-prefixed timestamp of up to 21 characters.
func ReadEEPROM(bus i2c.Bus) (Info, error) {
	var r [29]byte
	if err := bus.Tx(EEPROMAddr, []byte{0x00, 0x00}, r[:]); err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrNoEEPROM, err)
	}
	info := Info{
		Width:          int(binary.LittleEndian.Uint16(r[0:2])),
		Height:         int(binary.LittleEndian.Uint16(r[2:4])),
		Colour:         int(r[4]),
		PCBVariant:     int(r[5]),
		DisplayVariant: int(r[6]),
	}
	n := min(int(r[7]), 21)
	info.Written = string(r[8 : 8+n])
	// An unprogrammed or absent-but-acking EEPROM reads 0xFF or 0x00.
	if info.Width == 0 || info.Width == 0xFFFF || info.Height == 0 || info.Height == 0xFFFF {
		return info, fmt.Errorf("inky EEPROM: implausible size %d×%d", info.Width, info.Height)
	}
	return info, nil
}

// SSD1608 commands used.
const (
	cmdDriverOutput = 0x01
	cmdDeepSleep    = 0x10
	cmdDataEntry    = 0x11
	cmdSWReset      = 0x12
	cmdActivate     = 0x20
	cmdWriteBW      = 0x24
	cmdWriteRed     = 0x26
	cmdVCOM         = 0x2C
	cmdLUT          = 0x32
	cmdDummyLine    = 0x3A
	cmdGateTime     = 0x3B
	cmdBorder       = 0x3C
	cmdRAMX         = 0x44
	cmdRAMY         = 0x45
	cmdRAMXCounter  = 0x4E
	cmdRAMYCounter  = 0x4F
)

// LUT returns the 30-byte black/white waveform for the pHAT's panel
// (values as published in Pimoroni's inky library, MIT).
func LUT() []byte {
	return []byte{
		0x02, 0x02, 0x01, 0x11, 0x12, 0x12, 0x22, 0x22, 0x66, 0x69,
		0x69, 0x59, 0x58, 0x99, 0x99, 0x88, 0x00, 0x00, 0x00, 0x00,
		0xF8, 0xB4, 0x13, 0x51, 0x35, 0x51, 0x51, 0x19, 0x01, 0x00,
	}
}

// ErrBusyTimeout reports a BUSY line that never cleared.
var ErrBusyTimeout = epdlink.ErrBusyTimeout

// Pins are the pHAT's control lines (DC GPIO22, RST GPIO27, BUSY GPIO17).
type Pins struct {
	DC, RST gpio.PinOut
	BUSY    gpio.PinIn
}

// Opts tune the driver.
type Opts struct {
	// BusyTimeout bounds every wait for BUSY (default 30 s: a refresh
	// takes several seconds).
	BusyTimeout time.Duration
	Rotate180   bool
	// Delay replaces time.Sleep for the reset timing (tests).
	Delay func(time.Duration)
}

// Dev is one pHAT.
type Dev struct {
	link *epdlink.Link
	opts Opts
}

// New connects to the pHAT (SPI at 488 kHz, as Pimoroni runs it).
func New(port spi.Port, pins Pins, opts Opts) (*Dev, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 30 * time.Second
	}
	link, err := epdlink.Open(port, 488*physic.KiloHertz, epdlink.Pins{DC: pins.DC, RST: pins.RST, BUSY: pins.BUSY})
	if err != nil {
		return nil, fmt.Errorf("inky: %w", err)
	}
	if opts.Delay != nil {
		link.Delay = opts.Delay
	}
	return &Dev{link: link, opts: opts}, nil
}

func (d *Dev) String() string { return "inky-phat-ssd1608" }

// ColorModel is 1-bit grey.
func (d *Dev) ColorModel() color.Model { return color.GrayModel }

// Bounds is the picture size.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, Width, Height) }

// Pack converts a 250×122 picture into the black/white RAM plane: RAM row
// x holds picture column x, RAM column 129-y holds picture row y, MSB
// first, 1 is white; the unused columns stay white.
func Pack(img image.Image, rotate180 bool) []byte {
	return mono.Layout{Width: Width, Height: Height, Rows: ramRows, BytesPerRow: bytesPerRow, FirstColumn: 129, ReverseColumns: true}.Pack(img, rotate180)
}

func (d *Dev) wait(ctx context.Context, what string) error {
	if err := d.link.WaitIdle(ctx, d.opts.BusyTimeout); err != nil {
		return fmt.Errorf("inky %s: %w", what, err)
	}
	return nil
}

// Show draws img with a full refresh (the SSD1608 pHAT has no partial
// mode) and puts the controller into deep sleep.
func (d *Dev) Show(ctx context.Context, img image.Image) error {
	frame := Pack(img, d.opts.Rotate180)
	c := func(cmd byte, data ...byte) func() error {
		return func() error { return d.link.Command(cmd, data...) }
	}
	steps := []func() error{
		func() error {
			return d.link.Reset(0, 500*time.Millisecond, 500*time.Millisecond)
		},
		c(cmdSWReset),
		func() error { d.link.Delay(time.Second); return d.wait(ctx, "reset") },
		c(cmdDriverOutput, byte(ramRows-1), byte((ramRows-1)>>8), 0x00),
		c(cmdDummyLine, 0x1B),
		c(cmdGateTime, 0x0B),
		c(cmdDataEntry, 0x03),
		c(cmdRAMX, 0x00, bytesPerRow-1),
		c(cmdRAMY, 0x00, 0x00, byte(ramRows-1), byte((ramRows-1)>>8)),
		c(cmdVCOM, 0x70),
		c(cmdLUT, LUT()...),
		c(cmdBorder, 0x01), // white border
		c(cmdRAMXCounter, 0x00),
		c(cmdRAMYCounter, 0x00, 0x00),
		c(cmdWriteBW, frame...),
		c(cmdWriteRed, make([]byte, FrameSize)...), // no red/yellow pixels
		func() error { return d.wait(ctx, "RAM write") },
		c(cmdActivate),
		func() error { return d.wait(ctx, "refresh") },
		c(cmdDeepSleep, 0x01),
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// Halt puts the controller into deep sleep.
func (d *Dev) Halt() error {
	if err := d.link.Command(cmdDeepSleep, 0x01); err != nil {
		return fmt.Errorf("inky: sleep: %w", err)
	}
	return nil
}
