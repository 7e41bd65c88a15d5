package display

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi/spireg"
	// Only the Linux character-device drivers: host.Init's bcm283x
	// driver would map /dev/mem at the wrong place on a Pi 5.
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs"

	"github.com/kibitzbox/kibitzbox/hardware/detect"
	"github.com/kibitzbox/kibitzbox/hardware/epd2in13"
	"github.com/kibitzbox/kibitzbox/hardware/fb"
	"github.com/kibitzbox/kibitzbox/hardware/inky"
	"github.com/kibitzbox/kibitzbox/hardware/oled"
	"github.com/kibitzbox/kibitzbox/internal/render"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// Config is everything the display's flags set.
type Config struct {
	// Logger receives the daemon's logs; nil discards them.
	Logger          *slog.Logger
	Panel, OLEDChip string
	I2CBus          string
	I2CAddr         uint
	SPI             string
	DCPin, RSTPin   string
	BusyPin, PwrPin string
	Rotate180       bool
	BusyTimeout     time.Duration
	FB              string

	HubStatus, HotspotStatus string
	Sample                   bool

	Preview      string
	PreviewScale int
	Page         int
	HDMISize     string

	Interval, Carousel, ShiftEvery, DimAfter time.Duration
	EinkMinGap, EinkFullGap                  time.Duration
	EinkMaxPartials                          int
	EinkWindowed                             bool
}

// panelSize is the picture size of each panel kind.
func panelSize(panel, hdmiSize string) (image.Point, error) {
	switch panel {
	case detect.SSD1306, detect.SH1106:
		return image.Pt(oled.Width, oled.Height), nil
	case detect.EPD2in13:
		return image.Pt(epd2in13.Width, epd2in13.Height), nil
	case detect.Inky:
		return image.Pt(inky.Width, inky.Height), nil
	case detect.HDMI:
		w, h, ok := strings.Cut(hdmiSize, "x")
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || wi < 64 || hi < 32 || wi > 8192 || hi > 8192 {
			return image.Point{}, fmt.Errorf("HDMI size %q: want WIDTHxHEIGHT", hdmiSize)
		}
		return image.Pt(wi, hi), nil
	}
	return image.Point{}, fmt.Errorf("panel %q has no fixed size (use ssd1306, sh1106, epd2in13v4, inky or hdmi)", panel)
}

// DefaultConfig is the configuration without flags.
func DefaultConfig() Config {
	return Config{
		Panel:           "auto",
		OLEDChip:        "ssd1306",
		I2CBus:          "1",
		SPI:             "SPI0.0",
		FB:              "/dev/fb0",
		HubStatus:       "http://" + status.HubAddr + "/status",
		HotspotStatus:   "http://" + status.HotspotAddr + "/status",
		HDMISize:        "1280x720",
		Interval:        2 * time.Second,
		Carousel:        6 * time.Second,
		ShiftEvery:      3 * time.Minute,
		DimAfter:        10 * time.Minute,
		EinkMinGap:      30 * time.Second,
		EinkFullGap:     time.Minute,
		EinkMaxPartials: 20,
	}
}

func (c Config) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Run drives the screen (or writes the preview) until ctx ends. A box
// without a screen is normal: Run then idles until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	src := newSource(cfg)
	if cfg.Preview != "" {
		return writePreview(ctx, cfg, src)
	}
	scr, err := openScreen(ctx, cfg, src)
	if err != nil {
		// Under gokrazy an exit means a restart loop; a box without a
		// screen is normal, so say why once and wait.
		cfg.log().Warn("display: no screen driven; idling", "panel", cfg.Panel, "reason", err)
		<-ctx.Done()
		return nil
	}
	defer func() {
		if err := scr.Close(); err != nil {
			cfg.log().Warn("display: close screen", "err", err)
		}
	}()
	cfg.log().Info("display: driving screen", "screen", scr.String(), "size", scr.Size())
	loop(ctx, cfg, scr, src, time.Now)
	return nil
}

// writePreview renders one frame to a PNG, scaled up so small panels are
// legible on a computer screen.
func writePreview(ctx context.Context, cfg Config, src source) error {
	size, err := panelSize(cfg.Panel, cfg.HDMISize)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	in := src.get(fetchCtx)
	cancel()
	f, err := render.Render(size, in, render.Options{Page: cfg.Page})
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	scale := cfg.PreviewScale
	if scale <= 0 {
		scale = map[bool]int{true: 4, false: 3}[size.X < 200]
		if size.Y > 300 {
			scale = 1
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, upscale(f.Image, scale)); err != nil {
		return fmt.Errorf("preview: encode: %w", err)
	}
	if err := os.WriteFile(cfg.Preview, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	return nil
}

func upscale(img *image.Gray, n int) *image.Gray {
	if n == 1 {
		return img
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()*n, b.Dy()*n))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			out.Pix[y*out.Stride+x] = img.Pix[img.PixOffset(b.Min.X+x/n, b.Min.Y+y/n)]
		}
	}
	return out
}

// source yields the current status.
type source interface {
	get(ctx context.Context) render.Input
}

func newSource(cfg Config) source {
	if cfg.Sample {
		return sampleSource{}
	}
	return &httpSource{hubURL: cfg.HubStatus, hotspotURL: cfg.HotspotStatus, client: &http.Client{Timeout: fetchTimeout}, log: cfg.log()}
}

type sampleSource struct{}

func (sampleSource) get(context.Context) render.Input { return render.Sample() }

// openScreen brings up the configured (or detected) panel and shows the
// first picture on it, so a panel that is configured but absent is found
// out here, once.
func openScreen(ctx context.Context, cfg Config, src source) (screen, error) {
	if cfg.Panel == detect.None {
		return nil, errors.New("--panel=none")
	}
	if _, err := driverreg.Init(); err != nil {
		return nil, fmt.Errorf("periph drivers: %w", err)
	}
	panel := cfg.Panel
	var bus i2c.BusCloser
	closeBus := func() {
		if bus != nil {
			bus.Close()
		}
	}
	addr := uint16(cfg.I2CAddr)
	switch panel {
	case "auto", detect.SSD1306, detect.SH1106:
		b, err := i2creg.Open(cfg.I2CBus)
		if err != nil && panel != "auto" {
			return nil, fmt.Errorf("I2C bus %q (is dtparam=i2c_arm=on in config.txt?): %w", cfg.I2CBus, err)
		}
		bus = b
	}
	if panel == "auto" {
		env := detect.Env{FBPath: cfg.FB, OLEDChip: cfg.OLEDChip}
		if bus != nil {
			env.I2C = bus
		}
		res := detect.Detect(env)
		if res.Panel == detect.None {
			closeBus()
			return nil, fmt.Errorf("nothing detected: %s (a Waveshare e-paper HAT needs --panel=epd2in13v4)", res.Why)
		}
		cfg.log().Info("display: detected", "panel", res.Panel, "why", res.Why)
		panel, addr = res.Panel, res.Addr
	}
	if panel != detect.SSD1306 && panel != detect.SH1106 {
		closeBus()
		bus = nil
	}
	var scr screen
	var err error
	switch panel {
	case detect.SSD1306, detect.SH1106:
		scr, err = openOLED(cfg, panel, bus, addr)
	case detect.Inky:
		scr, err = openInky(cfg)
	case detect.EPD2in13:
		scr, err = openEPD(cfg)
	case detect.HDMI:
		scr, err = openHDMI(cfg)
	default:
		err = fmt.Errorf("unknown panel %q", panel)
	}
	if err != nil {
		closeBus()
		return nil, err
	}
	// First picture now: an e-paper panel that never clears BUSY fails
	// here rather than on every later update.
	img, _ := renderFrame(scr.Size(), src.get(ctx), 0, 0)
	if err := scr.show(ctx, img, time.Now()); err != nil {
		scr.Close()
		return nil, fmt.Errorf("first picture on %s: %w", scr, err)
	}
	return scr, nil
}

func openOLED(cfg Config, chip string, bus i2c.BusCloser, addr uint16) (screen, error) {
	if bus == nil {
		return nil, errors.New("no I2C bus")
	}
	if addr == 0 {
		for _, a := range []uint16{oled.Addr, oled.AltAddr} {
			if oled.Probe(bus, a) {
				addr = a
				break
			}
		}
		if addr == 0 {
			return nil, fmt.Errorf("no %s answers at 0x3c or 0x3d on I2C bus %s", chip, bus)
		}
	}
	c, err := oled.ChipByName(chip)
	if err != nil {
		return nil, err
	}
	d, err := oled.New(bus, addr, c)
	if err != nil {
		return nil, err
	}
	return &oledScreen{dev: d, bus: bus, dimAfter: cfg.DimAfter, rotate180: cfg.Rotate180}, nil
}

func pin(name, fallback, role string) (gpio.PinIO, error) {
	if name == "" {
		name = fallback
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("%s pin %q not found (GPIO driver not loaded?)", role, name)
	}
	return p, nil
}

func openEPD(cfg Config) (screen, error) {
	port, err := spireg.Open(cfg.SPI)
	if err != nil {
		return nil, fmt.Errorf("SPI %q (is dtparam=spi=on in config.txt?): %w", cfg.SPI, err)
	}
	dc, err1 := pin(cfg.DCPin, "GPIO25", "DC")
	rst, err2 := pin(cfg.RSTPin, "GPIO17", "RST")
	busy, err3 := pin(cfg.BusyPin, "GPIO24", "BUSY")
	if err := errors.Join(err1, err2, err3); err != nil {
		port.Close()
		return nil, err
	}
	pins := epd2in13.Pins{DC: dc, RST: rst, BUSY: busy}
	if cfg.PwrPin != "" {
		pwr, err := pin(cfg.PwrPin, "", "PWR")
		if err != nil {
			port.Close()
			return nil, err
		}
		pins.PWR = pwr
	}
	d, err := epd2in13.New(port, pins, epd2in13.Opts{Rotate180: cfg.Rotate180, BusyTimeout: cfg.BusyTimeout, WindowedPartial: cfg.EinkWindowed})
	if err != nil {
		port.Close()
		return nil, err
	}
	return &einkScreen{name: d.String(), size: image.Pt(epd2in13.Width, epd2in13.Height),
		full: d.Full, partial: d.Partial, halt: d.Halt, closer: port.Close, policy: newPolicy(cfg)}, nil
}

func openInky(cfg Config) (screen, error) {
	port, err := spireg.Open(cfg.SPI)
	if err != nil {
		return nil, fmt.Errorf("SPI %q (is dtparam=spi=on in config.txt?): %w", cfg.SPI, err)
	}
	dc, err1 := pin(cfg.DCPin, "GPIO22", "DC")
	rst, err2 := pin(cfg.RSTPin, "GPIO27", "RST")
	busy, err3 := pin(cfg.BusyPin, "GPIO17", "BUSY")
	if err := errors.Join(err1, err2, err3); err != nil {
		port.Close()
		return nil, err
	}
	d, err := inky.New(port, inky.Pins{DC: dc, RST: rst, BUSY: busy}, inky.Opts{Rotate180: cfg.Rotate180, BusyTimeout: cfg.BusyTimeout})
	if err != nil {
		port.Close()
		return nil, err
	}
	return &einkScreen{name: d.String(), size: image.Pt(inky.Width, inky.Height),
		full: d.Show, halt: d.Halt, closer: port.Close, policy: newPolicy(cfg)}, nil
}

func openHDMI(cfg Config) (screen, error) {
	d, err := fb.Open(cfg.FB)
	if err != nil {
		return nil, err
	}
	s := &hdmiScreen{dev: d}
	if c, err := fb.TakeConsole(); err != nil {
		cfg.log().Warn("display: kernel console may draw over the picture", "err", err)
	} else {
		s.console = c
	}
	return s, nil
}
