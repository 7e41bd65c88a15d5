// Command display shows the Kibitz Box join codes — the Wi-Fi QR and the
// call QR — and live status on an attached OLED, e-paper or HDMI screen.
// It reads the hub's and the hotspot's loopback status JSON and works
// with either absent ("starting…").
//
//	display --panel=auto
//	display --preview out.png --panel ssd1306 --sample
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

func main() {
	cfg := defaultConfig()
	flag.StringVar(&cfg.Panel, "panel", cfg.Panel, "screen: auto|ssd1306|sh1106|epd2in13v4|inky|hdmi|none")
	flag.StringVar(&cfg.OLEDChip, "oled", cfg.OLEDChip, "controller of an auto-detected OLED: ssd1306|sh1106 (they cannot be told apart on the bus)")
	flag.StringVar(&cfg.I2CBus, "i2c-bus", cfg.I2CBus, "I2C bus (number, /dev/i2c-N or I2CN)")
	flag.UintVar(&cfg.I2CAddr, "i2c-addr", cfg.I2CAddr, "OLED I2C address, 0 to probe 0x3c then 0x3d")
	flag.StringVar(&cfg.SPI, "spi", cfg.SPI, "SPI port of the e-paper panel")
	flag.StringVar(&cfg.DCPin, "dc-pin", "", "e-paper DC GPIO (default GPIO25 Waveshare, GPIO22 Inky)")
	flag.StringVar(&cfg.RSTPin, "rst-pin", "", "e-paper RST GPIO (default GPIO17 Waveshare, GPIO27 Inky)")
	flag.StringVar(&cfg.BusyPin, "busy-pin", "", "e-paper BUSY GPIO (default GPIO24 Waveshare, GPIO17 Inky)")
	flag.StringVar(&cfg.PwrPin, "pwr-pin", "", "Waveshare PWR GPIO on newer HATs (e.g. GPIO18); empty if not wired")
	flag.BoolVar(&cfg.Rotate180, "rotate180", false, "turn the picture upside down (OLED, e-paper)")
	flag.DurationVar(&cfg.BusyTimeout, "busy-timeout", 0, "longest wait for the e-paper BUSY line (0: 10s Waveshare, 30s Inky)")
	flag.StringVar(&cfg.FB, "fb", cfg.FB, "framebuffer device for --panel=hdmi")
	flag.StringVar(&cfg.HubStatus, "hub-status", cfg.HubStatus, "hub status URL")
	flag.StringVar(&cfg.HotspotStatus, "hotspot-status", cfg.HotspotStatus, "hotspot status URL")
	flag.StringVar(&cfg.Preview, "preview", "", "write one frame as PNG to this file instead of driving a screen")
	flag.IntVar(&cfg.PreviewScale, "preview-scale", 0, "pixel scale of --preview (0: 4 for OLED, 3 for e-paper, 1 for HDMI)")
	flag.IntVar(&cfg.Page, "page", 0, "carousel page for --preview on an OLED: 0 Wi-Fi, 1 call")
	flag.StringVar(&cfg.HDMISize, "hdmi-size", cfg.HDMISize, "screen size for --preview --panel=hdmi")
	flag.BoolVar(&cfg.Sample, "sample", false, "show a built-in sample status instead of fetching it")
	flag.DurationVar(&cfg.Interval, "interval", cfg.Interval, "how often to fetch the status")
	flag.DurationVar(&cfg.Carousel, "carousel", cfg.Carousel, "how long each code stays on an OLED")
	flag.DurationVar(&cfg.ShiftEvery, "shift-every", cfg.ShiftEvery, "move the OLED picture by a pixel this often (burn-in)")
	flag.DurationVar(&cfg.DimAfter, "dim-after", cfg.DimAfter, "dim the OLED after this long without a status change; 0 never")
	flag.DurationVar(&cfg.EinkMinGap, "eink-min-gap", cfg.EinkMinGap, "least time between two e-paper updates")
	flag.DurationVar(&cfg.EinkFullGap, "eink-full-gap", cfg.EinkFullGap, "least time between two full e-paper refreshes")
	flag.IntVar(&cfg.EinkMaxPartials, "eink-max-partials", cfg.EinkMaxPartials, "partial refreshes before a full one is due")
	flag.BoolVar(&cfg.EinkWindowed, "eink-partial-window", false, "Waveshare: send only the changed area on partial refreshes (needs RAM kept through deep sleep; unconfirmed)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "display: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		slog.Error("display", "err", err)
		os.Exit(1)
	}
}

func defaultConfig() config {
	return config{
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
