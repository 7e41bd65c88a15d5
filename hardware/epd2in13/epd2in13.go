// Package epd2in13 drives the Waveshare 2.13" e-Paper HAT V4 (SSD1680,
// 122×250 black/white, used here in landscape as 250×122) over SPI with
// DC, RST and BUSY lines. It does full refreshes, partial refreshes
// (optionally limited to the changed window) and puts the controller into deep sleep after every update,
// as the panel maker asks.
package epd2in13

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/kibitzbox/kibitzbox/hardware/internal/epdlink"
	"github.com/kibitzbox/kibitzbox/hardware/internal/mono"
)

// Panel geometry: the controller sees a portrait panel of 122 columns
// (16 bytes a row, the last 6 bits padding) by 250 rows.
const (
	Width       = 250 // landscape, as drawn
	Height      = 122
	panelCols   = Height
	panelRows   = Width
	bytesPerRow = (panelCols + 7) / 8
	FrameSize   = bytesPerRow * panelRows // 4000
)

// SSD1680 commands used.
const (
	cmdDriverOutput   = 0x01
	cmdDeepSleep      = 0x10
	cmdDataEntry      = 0x11
	cmdSWReset        = 0x12
	cmdTempSensor     = 0x18
	cmdActivate       = 0x20
	cmdUpdateControl1 = 0x21
	cmdUpdateControl2 = 0x22
	cmdWriteBW        = 0x24
	cmdWriteRed       = 0x26
	cmdBorder         = 0x3C
	cmdRAMX           = 0x44
	cmdRAMY           = 0x45
	cmdRAMXCounter    = 0x4E
	cmdRAMYCounter    = 0x4F
)

// ErrBusyTimeout reports a BUSY line that never cleared.
var ErrBusyTimeout = epdlink.ErrBusyTimeout

// Pins are the HAT's control lines; PWR is optional (newer HATs switch
// the panel's supply with it).
type Pins struct {
	DC, RST gpio.PinOut
	BUSY    gpio.PinIn
	PWR     gpio.PinOut
}

// Opts tune the driver.
type Opts struct {
	// BusyTimeout bounds every wait for BUSY (default 10 s; a full
	// refresh takes about 2 s).
	BusyTimeout time.Duration
	// Rotate180 turns the picture for a HAT mounted the other way up.
	Rotate180 bool
	// WindowedPartial limits partial refreshes to the RAM area that
	// changed instead of rewriting both full frames as Waveshare's driver
	// does. It saves SPI time but relies on the controller keeping RAM
	// through deep sleep and the reset pulse, not yet seen on a real panel.
	WindowedPartial bool
	// Delay replaces time.Sleep for the reset pulses (tests).
	Delay func(time.Duration)
}

// Dev is one panel.
type Dev struct {
	link    *epdlink.Link
	pins    Pins
	opts    Opts
	current []byte // what the panel shows, in RAM layout; nil before the first full refresh
}

// New connects to the panel; it sends nothing until the first refresh.
func New(port spi.Port, pins Pins, opts Opts) (*Dev, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	link, err := epdlink.Open(port, 4*physic.MegaHertz, epdlink.Pins{DC: pins.DC, RST: pins.RST, BUSY: pins.BUSY})
	if err != nil {
		return nil, fmt.Errorf("epd2in13: %w", err)
	}
	if opts.Delay != nil {
		link.Delay = opts.Delay
	}
	return &Dev{link: link, pins: pins, opts: opts}, nil
}

func (d *Dev) String() string { return "epd2in13v4" }

// ColorModel is 1-bit grey.
func (d *Dev) ColorModel() color.Model { return color.GrayModel }

// Bounds is the landscape picture size.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, Width, Height) }

// Pack converts a landscape picture into the controller's RAM layout:
// landscape (x, y) is panel column y, row 249-x; MSB is the leftmost
// column; 1 is white.
func Pack(img image.Image, rotate180 bool) []byte {
	return mono.Layout{Width: Width, Height: Height, Rows: panelRows, BytesPerRow: bytesPerRow, ReverseRows: true}.Pack(img, rotate180)
}

func (d *Dev) power(on bool) error {
	if d.pins.PWR == nil {
		return nil
	}
	if err := d.pins.PWR.Out(gpio.Level(on)); err != nil {
		return fmt.Errorf("epd2in13: PWR pin: %w", err)
	}
	return nil
}

func (d *Dev) wait(ctx context.Context, what string) error {
	if err := d.link.WaitIdle(ctx, d.opts.BusyTimeout); err != nil {
		return fmt.Errorf("epd2in13 %s: %w", what, err)
	}
	return nil
}

// run sends a command list, stopping at the first error.
func (d *Dev) run(steps ...func() error) error {
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dev) cmd(c byte, data ...byte) func() error {
	return func() error { return d.link.Command(c, data...) }
}

// window selects the RAM area of byte columns x0..x1 and rows y0..y1
// and puts the address counter at its start.
func (d *Dev) window(x0, x1, y0, y1 int) func() error {
	return func() error {
		return d.run(
			d.cmd(cmdRAMX, byte(x0), byte(x1)),
			d.cmd(cmdRAMY, byte(y0), byte(y0>>8), byte(y1), byte(y1>>8)),
			d.cmd(cmdRAMXCounter, byte(x0)),
			d.cmd(cmdRAMYCounter, byte(y0), byte(y0>>8)),
		)
	}
}

// Full redraws the whole panel (about 2 s, with flashing), which clears
// the ghosting partial refreshes leave, then puts it to sleep.
func (d *Dev) Full(ctx context.Context, img image.Image) error {
	frame := Pack(img, d.opts.Rotate180)
	err := d.run(
		func() error { return d.power(true) },
		func() error { return d.link.Reset(20*time.Millisecond, 2*time.Millisecond, 20*time.Millisecond) },
		func() error { return d.wait(ctx, "reset") },
		d.cmd(cmdSWReset),
		func() error { return d.wait(ctx, "software reset") },
		d.cmd(cmdDriverOutput, byte(panelRows-1), byte((panelRows-1)>>8), 0x00),
		d.cmd(cmdDataEntry, 0x03), // X and Y increment
		d.window(0, bytesPerRow-1, 0, panelRows-1),
		d.cmd(cmdBorder, 0x05),
		d.cmd(cmdUpdateControl1, 0x00, 0x80),
		d.cmd(cmdTempSensor, 0x80), // internal sensor
		func() error { return d.wait(ctx, "init") },
		d.cmd(cmdWriteBW, frame...),
		// The "red" RAM holds the previous picture for partial refreshes.
		d.cmd(cmdWriteRed, frame...),
		d.cmd(cmdUpdateControl2, 0xF7), // clock, analog, load temperature and OTP LUT, display mode 1
		d.cmd(cmdActivate),
		func() error { return d.wait(ctx, "full refresh") },
		d.cmd(cmdDeepSleep, 0x01),
	)
	if err != nil {
		d.current = nil
		return err
	}
	d.current = frame
	return nil
}

// changedWindow is the smallest byte-column × row rectangle where a and b
// differ; ok is false when they are equal.
func changedWindow(a, b []byte) (x0, x1, y0, y1 int, ok bool) {
	x0, y0, x1, y1 = bytesPerRow, panelRows, -1, -1
	for row := 0; row < panelRows; row++ {
		for col := 0; col < bytesPerRow; col++ {
			i := row*bytesPerRow + col
			if a[i] != b[i] {
				x0, x1 = min(x0, col), max(x1, col)
				y0, y1 = min(y0, row), max(y1, row)
			}
		}
	}
	return x0, x1, y0, y1, x1 >= 0
}

func window(frame []byte, x0, x1, y0, y1 int) []byte {
	out := make([]byte, 0, (x1-x0+1)*(y1-y0+1))
	for row := y0; row <= y1; row++ {
		out = append(out, frame[row*bytesPerRow+x0:row*bytesPerRow+x1+1]...)
	}
	return out
}

// Partial redraws what changed since the last refresh (about 0.3 s, no
// flashing): the controller drives only pixels whose old-picture RAM
// (0x26) and new-picture RAM (0x24) differ. It needs a full refresh
// first; with nothing changed it sends nothing.
func (d *Dev) Partial(ctx context.Context, img image.Image) error {
	if d.current == nil {
		return fmt.Errorf("epd2in13: partial refresh before any full refresh")
	}
	frame := Pack(img, d.opts.Rotate180)
	x0, x1, y0, y1, ok := changedWindow(d.current, frame)
	if !ok {
		return nil
	}
	if !d.opts.WindowedPartial {
		x0, x1, y0, y1 = 0, bytesPerRow-1, 0, panelRows-1
	}
	prev := window(d.current, x0, x1, y0, y1)
	next := window(frame, x0, x1, y0, y1)
	steps := []func() error{
		func() error { return d.power(true) },
		func() error { return d.link.Reset(0, time.Millisecond, time.Millisecond) },
		d.cmd(cmdBorder, 0x80),
		d.cmd(cmdDriverOutput, byte(panelRows-1), byte((panelRows-1)>>8), 0x00),
		d.cmd(cmdDataEntry, 0x03),
		d.window(x0, x1, y0, y1),
		d.cmd(cmdWriteRed, prev...),
		d.window(x0, x1, y0, y1),
		d.cmd(cmdWriteBW, next...),
		d.cmd(cmdUpdateControl2, 0xFF), // as 0xF7 plus display mode 2 (partial)
		d.cmd(cmdActivate),
		func() error { return d.wait(ctx, "partial refresh") },
	}
	if d.opts.WindowedPartial {
		// Old-picture RAM := what is shown now, or the next window's
		// partial would re-drive this one's pixels from stale RAM.
		steps = append(steps, d.window(x0, x1, y0, y1), d.cmd(cmdWriteRed, next...))
	}
	steps = append(steps, d.cmd(cmdDeepSleep, 0x01))
	if err := d.run(steps...); err != nil {
		d.current = nil // force a full refresh next time
		return err
	}
	d.current = frame
	return nil
}

// Halt puts the controller into deep sleep and cuts PWR where wired.
func (d *Dev) Halt() error {
	if err := d.link.Command(cmdDeepSleep, 0x01); err != nil {
		return fmt.Errorf("epd2in13: sleep: %w", err)
	}
	return d.power(false)
}
