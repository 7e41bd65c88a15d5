// Package ssd1306 drives the SSD1306 128×64 OLED over I2C.
package ssd1306

import (
	"periph.io/x/conn/v3/i2c"

	"github.com/kibitzbox/kibitzbox/hardware/oled"
)

// Init is the power-up command stream for a 128×64 module with the
// internal charge pump (the usual 3.3 V breakouts). Page addressing mode,
// so frames are written the same way as on the SH1106.
func Init() []byte {
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

// Chip returns the SSD1306 description for hardware/oled.
func Chip() oled.Chip {
	return oled.Chip{Name: "ssd1306", Init: Init(), ColumnOffset: 0}
}

// New initialises an SSD1306 at addr (0x3C or 0x3D).
func New(bus i2c.Bus, addr uint16) (*oled.Dev, error) { return oled.New(bus, addr, Chip()) }
