package display

import (
	"bytes"
	"context"
	"errors"
	"image"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"

	"github.com/kibitzbox/kibitzbox/hardware/epd2in13"
	"github.com/kibitzbox/kibitzbox/hardware/inky"
	"github.com/kibitzbox/kibitzbox/hardware/oled"
	"github.com/kibitzbox/kibitzbox/hardware/spifake"
	"github.com/kibitzbox/kibitzbox/internal/render"
)

// devBus is an I2C bus with devices at some addresses; it records what
// each was sent. Absent addresses do not acknowledge.
type devBus struct {
	mu      sync.Mutex
	devices map[uint16]func(w, r []byte) error
	writes  map[uint16][][]byte
}

func (b *devBus) String() string                  { return "devBus" }
func (b *devBus) SetSpeed(physic.Frequency) error { return nil }
func (b *devBus) Close() error                    { return nil }
func (b *devBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	dev, ok := b.devices[addr]
	if !ok {
		return errors.New("no acknowledge")
	}
	if b.writes == nil {
		b.writes = map[uint16][][]byte{}
	}
	b.writes[addr] = append(b.writes[addr], append([]byte(nil), w...))
	return dev(w, r)
}

func (b *devBus) sent(addr uint16) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.writes[addr]...)
}

func registerI2C(t *testing.T, name string, bus i2c.BusCloser) {
	t.Helper()
	if err := i2creg.Register(name, nil, -1, func() (i2c.BusCloser, error) { return bus, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i2creg.Unregister(name) })
}

func registerSPI(t *testing.T, name string, port spi.PortCloser) {
	t.Helper()
	if err := spireg.Register(name, nil, -1, func() (spi.PortCloser, error) { return port, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spireg.Unregister(name) })
}

func registerPin(t *testing.T, p gpio.PinIO) {
	t.Helper()
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister(p.Name()) })
}

// panelBusy is a BUSY line driven by a working panel: low once the pin
// is configured as an input.
type panelBusy struct{ gpiotest.Pin }

func (p *panelBusy) In(pull gpio.Pull, edge gpio.Edge) error {
	if err := p.Pin.In(pull, edge); err != nil {
		return err
	}
	return p.Out(gpio.Low)
}

// startRun runs the program and returns a stop function that cancels it
// and fails the test unless it returns nil promptly.
func startRun(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("run ignored cancellation")
		}
	}
}

func hardwareConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Sample = true
	cfg.Interval = 50 * time.Millisecond
	cfg.FB = filepath.Join(t.TempDir(), "no-fb0")
	return cfg
}

func TestAutoDetectsAndDrivesAnOLED(t *testing.T) {
	bus := &devBus{devices: map[uint16]func(w, r []byte) error{0x3C: func([]byte, []byte) error { return nil }}}
	registerI2C(t, "kbtest-oled", bus)
	cfg := hardwareConfig(t)
	cfg.I2CBus = "kbtest-oled"
	stop := startRun(t, cfg)

	// What a directly driven SSD1306 receives for the sample's first page.
	ref := &i2ctest.Record{}
	dev, err := oled.New(ref, oled.Addr, oled.SSD1306)
	if err != nil {
		t.Fatal(err)
	}
	img, err := renderFrame(dev.Bounds().Size(), render.Sample(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Show(img); err != nil {
		t.Fatal(err)
	}
	want := make([][]byte, len(ref.Ops))
	for i, op := range ref.Ops {
		want[i] = op.W
	}
	waitUntil(t, func() bool { return len(bus.sent(0x3C)) >= len(want) }, "the first frame on the OLED")
	stop()

	got := bus.sent(0x3C)
	// got[0] is detection's probe, then init and the frame.
	if !bytes.Equal(got[0], []byte{0x00}) {
		t.Errorf("first write %X, want the probe 00", got[0])
	}
	for i, w := range want {
		if !bytes.Equal(got[1+i], w) {
			t.Fatalf("write %d = % X, want % X", 1+i, got[1+i], w)
		}
	}
	if last := got[len(got)-1]; !bytes.Equal(last, []byte{0x00, 0xAE}) {
		t.Errorf("last write % X, want display off (00 AE) on exit", last)
	}
}

func TestAutoDetectsAndDrivesAnInky(t *testing.T) {
	record := []byte{250, 0, 122, 0, 1, 12, inky.VariantBlackSSD1608, 0}
	i2cBus := &devBus{devices: map[uint16]func(w, r []byte) error{0x50: func(w, r []byte) error {
		copy(r, record)
		return nil
	}}}
	registerI2C(t, "kbtest-inky", i2cBus)
	spiBus := spifake.New()
	registerSPI(t, "kbtest-inky-spi", spiBus.Port())
	registerPin(t, spiBus.DCPin("KB_INKY_DC", 9101))
	registerPin(t, &gpiotest.Pin{N: "KB_INKY_RST", Num: 9102})
	registerPin(t, &panelBusy{gpiotest.Pin{N: "KB_INKY_BUSY", Num: 9103}})

	cfg := hardwareConfig(t)
	cfg.I2CBus, cfg.SPI = "kbtest-inky", "kbtest-inky-spi"
	cfg.DCPin, cfg.RSTPin, cfg.BusyPin = "KB_INKY_DC", "KB_INKY_RST", "KB_INKY_BUSY"
	stop := startRun(t, cfg)
	refreshed := func() bool {
		c, _ := spiBus.Commands()
		return len(c) > 0 && c[len(c)-1].Cmd == 0x10
	}
	waitUntil(t, refreshed, "a refresh followed by deep sleep")
	stop()

	cmds, err := spiBus.Commands()
	if err != nil {
		t.Fatal(err)
	}
	img, _ := renderFrame(image.Pt(250, 122), render.Sample(), 0, 0)
	var frame []byte
	for _, c := range cmds {
		if c.Cmd == 0x24 {
			frame = c.Data
		}
	}
	if !bytes.Equal(frame, inky.Pack(img, false)) {
		t.Error("the Inky did not receive the sample picture")
	}
}

func TestEPDWithoutPanelIdles(t *testing.T) {
	spiBus := spifake.New()
	registerSPI(t, "kbtest-epd-absent", spiBus.Port())
	registerPin(t, spiBus.DCPin("KB_EPD1_DC", 9201))
	registerPin(t, &gpiotest.Pin{N: "KB_EPD1_RST", Num: 9202})
	registerPin(t, &gpiotest.Pin{N: "KB_EPD1_BUSY", Num: 9203}) // pull-up, nobody drives it

	cfg := hardwareConfig(t)
	cfg.Panel, cfg.SPI, cfg.BusyTimeout = "epd2in13v4", "kbtest-epd-absent", 100*time.Millisecond
	cfg.DCPin, cfg.RSTPin, cfg.BusyPin = "KB_EPD1_DC", "KB_EPD1_RST", "KB_EPD1_BUSY"
	stop := startRun(t, cfg)
	time.Sleep(500 * time.Millisecond) // well past the BUSY timeout
	stop()
	cmds, _ := spiBus.Commands()
	for _, c := range cmds {
		if c.Cmd == 0x24 || c.Cmd == 0x20 {
			t.Fatalf("sent %v to a panel that never answered", c)
		}
	}
}

func TestEPDDrawsThenSleepsOnExit(t *testing.T) {
	spiBus := spifake.New()
	registerSPI(t, "kbtest-epd", spiBus.Port())
	registerPin(t, spiBus.DCPin("KB_EPD2_DC", 9301))
	registerPin(t, &gpiotest.Pin{N: "KB_EPD2_RST", Num: 9302})
	registerPin(t, &panelBusy{gpiotest.Pin{N: "KB_EPD2_BUSY", Num: 9303}})

	cfg := hardwareConfig(t)
	cfg.Panel, cfg.SPI = "epd2in13v4", "kbtest-epd"
	cfg.DCPin, cfg.RSTPin, cfg.BusyPin = "KB_EPD2_DC", "KB_EPD2_RST", "KB_EPD2_BUSY"
	stop := startRun(t, cfg)
	count := func(cmd byte) int {
		c, _ := spiBus.Commands()
		n := 0
		for _, x := range c {
			if x.Cmd == cmd {
				n++
			}
		}
		return n
	}
	waitUntil(t, func() bool { return count(0x10) == 1 }, "the first full refresh")
	time.Sleep(300 * time.Millisecond) // unchanged sample: no further refresh
	if n := count(0x20); n != 1 {
		t.Errorf("%d refreshes of an unchanged picture, want 1", n)
	}
	stop()
	if n := count(0x10); n != 2 {
		t.Errorf("deep sleep sent %d times, want after the refresh and on exit", n)
	}
	cmds, _ := spiBus.Commands()
	img, _ := renderFrame(image.Pt(250, 122), render.Sample(), 0, 0)
	want := epd2in13.Pack(img, false)
	for _, c := range cmds {
		if c.Cmd == 0x24 && !bytes.Equal(c.Data, want) {
			t.Error("the panel did not receive the sample picture")
		}
	}
}
