// Package sh1106 drives the SH1106 OLED controller (the common 1.3"
// 128×64 modules) over I2C. Its RAM is 132 columns wide with the panel at
// column 2, and it only has page addressing.
package sh1106

import (
	"periph.io/x/conn/v3/i2c"

	"github.com/kibitzbox/kibitzbox/hardware/oled"
)

// Init is the power-up command stream. The SH1106 has a DC-DC converter
// (AD 8B) instead of the SSD1306's charge pump command.
func Init() []byte {
	return []byte{
		0xAE,       // display off
		0xD5, 0x80, // clock divide ratio / oscillator
		0xA8, 0x3F, // multiplex ratio: 64 rows
		0xD3, 0x00, // display offset 0
		0x40,       // start line 0
		0xAD, 0x8B, // DC-DC converter on
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

// ColumnOffset is where a 128-pixel panel starts in the 132-column RAM.
const ColumnOffset = 2

// Chip returns the SH1106 description for hardware/oled.
func Chip() oled.Chip {
	return oled.Chip{Name: "sh1106", Init: Init(), ColumnOffset: ColumnOffset}
}

// New initialises an SH1106 at addr (0x3C or 0x3D).
func New(bus i2c.Bus, addr uint16) (*oled.Dev, error) { return oled.New(bus, addr, Chip()) }
