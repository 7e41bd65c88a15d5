// Command display shows the Kibitz Box join codes — the Wi-Fi QR and the
// call QR — and live status on an attached OLED, e-paper or HDMI screen.
// It reads the hub's and the hotspot's loopback status JSON and works
// with either absent ("starting…").
//
//	display --panel=auto
//	display --preview out.png --panel ssd1306 --sample
//
// The loop and the screens live in internal/display; this file only
// parses flags.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/display"
)

func main() {
	cfg := display.DefaultConfig()
	fs := flag.NewFlagSet("display", flag.ContinueOnError)
	fs.StringVar(&cfg.Panel, "panel", cfg.Panel, "screen: auto|ssd1306|sh1106|epd2in13v4|inky|hdmi|none")
	fs.StringVar(&cfg.OLEDChip, "oled", cfg.OLEDChip, "controller of an auto-detected OLED: ssd1306|sh1106 (they cannot be told apart on the bus)")
	fs.StringVar(&cfg.I2CBus, "i2c-bus", cfg.I2CBus, "I2C bus (number, /dev/i2c-N or I2CN)")
	fs.UintVar(&cfg.I2CAddr, "i2c-addr", cfg.I2CAddr, "OLED I2C address, 0 to probe 0x3c then 0x3d")
	fs.StringVar(&cfg.SPI, "spi", cfg.SPI, "SPI port of the e-paper panel")
	fs.StringVar(&cfg.DCPin, "dc-pin", "", "e-paper DC GPIO (default GPIO25 Waveshare, GPIO22 Inky)")
	fs.StringVar(&cfg.RSTPin, "rst-pin", "", "e-paper RST GPIO (default GPIO17 Waveshare, GPIO27 Inky)")
	fs.StringVar(&cfg.BusyPin, "busy-pin", "", "e-paper BUSY GPIO (default GPIO24 Waveshare, GPIO17 Inky)")
	fs.StringVar(&cfg.PwrPin, "pwr-pin", "", "Waveshare PWR GPIO on newer HATs (e.g. GPIO18); empty if not wired")
	fs.BoolVar(&cfg.Rotate180, "rotate180", false, "turn the picture upside down (OLED, e-paper)")
	fs.DurationVar(&cfg.BusyTimeout, "busy-timeout", 0, "longest wait for the e-paper BUSY line (0: 10s Waveshare, 30s Inky)")
	fs.StringVar(&cfg.FB, "fb", cfg.FB, "framebuffer device for --panel=hdmi")
	fs.StringVar(&cfg.HubStatus, "hub-status", cfg.HubStatus, "hub status URL")
	fs.StringVar(&cfg.HotspotStatus, "hotspot-status", cfg.HotspotStatus, "hotspot status URL")
	fs.StringVar(&cfg.Preview, "preview", "", "write one frame as PNG to this file instead of driving a screen")
	fs.IntVar(&cfg.PreviewScale, "preview-scale", 0, "pixel scale of --preview (0: 4 for OLED, 3 for e-paper, 1 for HDMI)")
	fs.IntVar(&cfg.Page, "page", 0, "carousel page for --preview on an OLED: 0 Wi-Fi, 1 call")
	fs.StringVar(&cfg.HDMISize, "hdmi-size", cfg.HDMISize, "screen size for --preview --panel=hdmi")
	fs.BoolVar(&cfg.Sample, "sample", false, "show a built-in sample status instead of fetching it")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "how often to fetch the status")
	fs.DurationVar(&cfg.Carousel, "carousel", cfg.Carousel, "how long each code stays on an OLED")
	fs.DurationVar(&cfg.ShiftEvery, "shift-every", cfg.ShiftEvery, "move the OLED picture by a pixel this often (burn-in)")
	fs.DurationVar(&cfg.DimAfter, "dim-after", cfg.DimAfter, "dim the OLED after this long without a status change; 0 never")
	fs.DurationVar(&cfg.EinkMinGap, "eink-min-gap", cfg.EinkMinGap, "least time between two e-paper updates")
	fs.DurationVar(&cfg.EinkFullGap, "eink-full-gap", cfg.EinkFullGap, "least time between two full e-paper refreshes")
	fs.IntVar(&cfg.EinkMaxPartials, "eink-max-partials", cfg.EinkMaxPartials, "partial refreshes before a full one is due")
	fs.BoolVar(&cfg.EinkWindowed, "eink-partial-window", false, "Waveshare: send only the changed area on partial refreshes (needs RAM kept through deep sleep; unconfirmed)")
	os.Exit(daemon.Main("display", fs, os.Args[1:], func(ctx context.Context, env daemon.Env) error {
		cfg.Logger = env.Log
		return display.Run(ctx, cfg)
	}))
}
