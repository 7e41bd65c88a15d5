package inky

import (
	"bytes"
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/kibitzbox/kibitzbox/hardware/spifake"
)

// EEPROMRecord builds the 29-byte record of a board.
func eepromRecord(w, h uint16, colour, pcb, variant byte, written string) []byte {
	r := make([]byte, 29)
	r[0], r[1], r[2], r[3] = byte(w), byte(w>>8), byte(h), byte(h>>8)
	r[4], r[5], r[6] = colour, pcb, variant
	r[7] = byte(len(written))
	copy(r[8:], written)
	return r
}

func TestReadEEPROM(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{
		Addr: 0x50, W: []byte{0x00, 0x00},
		R: eepromRecord(250, 122, 1, 12, VariantBlackSSD1608, "2021-03-04 10:11:12.5"),
	}}}
	info, err := ReadEEPROM(bus)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Width: 250, Height: 122, Colour: 1, PCBVariant: 12, DisplayVariant: 10, Written: "2021-03-04 10:11:12.5"}
	if info != want {
		t.Errorf("info = %+v, want %+v", info, want)
	}
	if !info.Supported() {
		t.Error("SSD1608 black pHAT not supported")
	}
	if (Info{Width: 212, Height: 104, DisplayVariant: 4}).Supported() {
		t.Error("old 212×104 pHAT claimed as supported")
	}
}

func TestReadEEPROMAbsentOrBlank(t *testing.T) {
	if _, err := ReadEEPROM(&i2ctest.Playback{DontPanic: true}); !errors.Is(err, ErrNoEEPROM) {
		t.Errorf("empty bus: err = %v, want ErrNoEEPROM", err)
	}
	blank := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x50, W: []byte{0, 0}, R: bytes.Repeat([]byte{0xFF}, 29)}}}
	if _, err := ReadEEPROM(blank); err == nil {
		t.Error("blank EEPROM accepted")
	}
}

func white() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, Width, Height))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	return img
}

func TestPackCorners(t *testing.T) {
	img := white()
	img.Pix[img.PixOffset(0, 0)] = 0
	img.Pix[img.PixOffset(249, 121)] = 0
	frame := Pack(img, false)
	want := bytes.Repeat([]byte{0xFF}, 4250)
	want[0*17+16] = 0xBF  // row 0, column 129
	want[249*17+1] = 0x7F // row 249, column 8
	for i := range want {
		if frame[i] != want[i] {
			t.Fatalf("byte %d = %#02x, want %#02x", i, frame[i], want[i])
		}
	}
}

func TestShowSequence(t *testing.T) {
	bus := spifake.New()
	busy, rst := &gpiotest.Pin{N: "BUSY"}, &gpiotest.Pin{N: "RST"}
	d, err := New(bus.Port(), Pins{DC: bus.DC(), RST: rst, BUSY: busy}, Opts{Delay: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	busy.Out(gpio.Low)
	img := white()
	img.Pix[img.PixOffset(10, 10)] = 0
	if err := d.Show(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	got, err := bus.Commands()
	if err != nil {
		t.Fatal(err)
	}
	want := []spifake.Command{
		{Cmd: 0x12},
		{Cmd: 0x01, Data: []byte{0xF9, 0x00, 0x00}},
		{Cmd: 0x3A, Data: []byte{0x1B}},
		{Cmd: 0x3B, Data: []byte{0x0B}},
		{Cmd: 0x11, Data: []byte{0x03}},
		{Cmd: 0x44, Data: []byte{0x00, 0x10}},
		{Cmd: 0x45, Data: []byte{0x00, 0x00, 0xF9, 0x00}},
		{Cmd: 0x2C, Data: []byte{0x70}},
		{Cmd: 0x32, Data: LUT()},
		{Cmd: 0x3C, Data: []byte{0x01}},
		{Cmd: 0x4E, Data: []byte{0x00}},
		{Cmd: 0x4F, Data: []byte{0x00, 0x00}},
		{Cmd: 0x24, Data: Pack(img, false)},
		{Cmd: 0x26, Data: make([]byte, 4250)},
		{Cmd: 0x20},
		{Cmd: 0x10, Data: []byte{0x01}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d commands, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Cmd != want[i].Cmd || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("command %d = %v, want %v", i, got[i], want[i])
		}
	}
	if len(LUT()) != 30 {
		t.Errorf("LUT is %d bytes, want 30", len(LUT()))
	}
	if bus.Freq != 488*physic.KiloHertz {
		t.Errorf("SPI clock %v, want 488 kHz", bus.Freq)
	}
}

func TestBusyTimeout(t *testing.T) {
	bus := spifake.New()
	busy := &gpiotest.Pin{N: "BUSY"}
	d, err := New(bus.Port(), Pins{DC: bus.DC(), RST: &gpiotest.Pin{}, BUSY: busy}, Opts{BusyTimeout: 100 * time.Millisecond, Delay: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	busy.Out(gpio.High)
	done := make(chan error, 1)
	go func() { done <- d.Show(context.Background(), white()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBusyTimeout) {
			t.Fatalf("err = %v, want ErrBusyTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Show hung on a BUSY line stuck high")
	}
}
