// Package detect finds which screen is attached: an Inky pHAT by its ID
// EEPROM, an OLED by an I2C acknowledge at 0x3C/0x3D, an HDMI screen by
// the framebuffer device. A Waveshare e-paper HAT has no way to answer
// (its SPI is write-only), so it must be named by flag.
package detect

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"periph.io/x/conn/v3/i2c"

	"github.com/kibitzbox/kibitzbox/hardware/inky"
	"github.com/kibitzbox/kibitzbox/hardware/oled"
)

// Panel names, as the --panel flag spells them.
const (
	SSD1306  = "ssd1306"
	SH1106   = "sh1106"
	EPD2in13 = "epd2in13v4"
	Inky     = "inky"
	HDMI     = "hdmi"
	None     = "none"
)

// Env is what detection may look at; nil or empty fields are skipped.
type Env struct {
	// I2C is the header's I2C bus (bus 1 on a Pi), nil when it is absent
	// (no dtparam=i2c_arm=on).
	I2C i2c.Bus
	// FBPath is the framebuffer device, usually /dev/fb0.
	FBPath string
	// OLEDChip is the panel name to report for an OLED, SSD1306 unless
	// set: the two chips answer alike, so this cannot be probed reliably.
	OLEDChip string
}

// Result is the detected panel.
type Result struct {
	Panel string
	// Addr is the OLED's I2C address.
	Addr uint16
	// Inky is the pHAT's EEPROM record.
	Inky inky.Info
	// Why explains the choice (or what was missing), for the log.
	Why string
}

// Detect probes in order: Inky EEPROM, OLED, framebuffer.
func Detect(env Env) Result {
	var notes []error
	if env.I2C != nil {
		info, err := inky.ReadEEPROM(env.I2C)
		switch {
		case err == nil && info.Supported():
			return Result{Panel: Inky, Inky: info, Why: fmt.Sprintf("Inky EEPROM at 0x50: %d×%d variant %d", info.Width, info.Height, info.DisplayVariant)}
		case err == nil:
			notes = append(notes, fmt.Errorf("the Inky EEPROM at 0x50 names unsupported variant %d (%d×%d)", info.DisplayVariant, info.Width, info.Height))
		case !errors.Is(err, inky.ErrNoEEPROM):
			notes = append(notes, err)
		}
		for _, addr := range []uint16{oled.Addr, oled.AltAddr} {
			if oled.Probe(env.I2C, addr) {
				chip := env.OLEDChip
				if chip == "" {
					chip = SSD1306
				}
				return Result{Panel: chip, Addr: addr, Why: fmt.Sprintf("I2C device acknowledged at %#x", addr)}
			}
		}
		notes = append(notes, fmt.Errorf("no OLED at 0x3c/0x3d on %s", env.I2C))
	} else {
		notes = append(notes, errors.New("no I2C bus"))
	}
	if env.FBPath != "" {
		if _, err := os.Stat(env.FBPath); err == nil {
			return Result{Panel: HDMI, Why: env.FBPath + " exists"}
		}
		notes = append(notes, fmt.Errorf("no %s (no HDMI screen at boot; hdmi_force_hotplug=1 forces one)", env.FBPath))
	}
	why := make([]string, len(notes))
	for i, n := range notes {
		why[i] = n.Error()
	}
	return Result{Panel: None, Why: strings.Join(why, "; ")}
}
