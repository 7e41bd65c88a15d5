package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// fakeBus answers only at the addresses it has devices for, like a real
// bus where absent devices do not acknowledge.
type fakeBus struct {
	devices map[uint16]func(w, r []byte) error
	seen    []uint16
}

func (b *fakeBus) String() string                  { return "fakeI2C" }
func (b *fakeBus) SetSpeed(physic.Frequency) error { return nil }
func (b *fakeBus) Tx(addr uint16, w, r []byte) error {
	b.seen = append(b.seen, addr)
	if len(w) == 0 && len(r) == 0 {
		return errors.New("empty Tx never reaches the bus")
	}
	dev, ok := b.devices[addr]
	if !ok {
		return errors.New("remote I/O error")
	}
	return dev(w, r)
}

func ack(w, r []byte) error { return nil }

func eeprom(variant byte) func(w, r []byte) error {
	return func(w, r []byte) error {
		if string(w) != "\x00\x00" || len(r) != 29 {
			return errors.New("unexpected EEPROM access")
		}
		copy(r, []byte{250, 0, 122, 0, 1, 12, variant, 0})
		return nil
	}
}

func TestOLEDAt3C(t *testing.T) {
	bus := &fakeBus{devices: map[uint16]func(w, r []byte) error{0x3C: ack}}
	got := Detect(Env{I2C: bus})
	if got.Panel != SSD1306 || got.Addr != 0x3C {
		t.Errorf("got %+v, want ssd1306 at 0x3c", got)
	}
	got = Detect(Env{I2C: bus, OLEDChip: SH1106})
	if got.Panel != SH1106 {
		t.Errorf("with OLEDChip sh1106 got %+v", got)
	}
}

func TestOLEDAt3D(t *testing.T) {
	got := Detect(Env{I2C: &fakeBus{devices: map[uint16]func(w, r []byte) error{0x3D: ack}}})
	if got.Panel != SSD1306 || got.Addr != 0x3D {
		t.Errorf("got %+v, want ssd1306 at 0x3d", got)
	}
}

func TestInkyEEPROM(t *testing.T) {
	got := Detect(Env{I2C: &fakeBus{devices: map[uint16]func(w, r []byte) error{0x50: eeprom(10)}}})
	if got.Panel != Inky || got.Inky.Width != 250 || got.Inky.DisplayVariant != 10 {
		t.Errorf("got %+v, want inky 250×122 variant 10", got)
	}
}

func TestUnsupportedInkyIsNotUsed(t *testing.T) {
	got := Detect(Env{I2C: &fakeBus{devices: map[uint16]func(w, r []byte) error{0x50: eeprom(4)}}})
	if got.Panel != None || !strings.Contains(got.Why, "unsupported variant 4") {
		t.Errorf("got %+v, want none with the reason", got)
	}
}

func TestNothing(t *testing.T) {
	bus := &fakeBus{}
	got := Detect(Env{I2C: bus, FBPath: filepath.Join(t.TempDir(), "fb0")})
	if got.Panel != None {
		t.Errorf("got %+v, want none", got)
	}
	for _, want := range []string{"no OLED", "fb0"} {
		if !strings.Contains(got.Why, want) {
			t.Errorf("reason %q does not mention %q", got.Why, want)
		}
	}
	if len(bus.seen) != 3 {
		t.Errorf("probed %v, want 0x50, 0x3c, 0x3d", bus.seen)
	}
	if got := Detect(Env{}); got.Panel != None {
		t.Errorf("no bus, no fb: got %+v", got)
	}
}

func TestFramebuffer(t *testing.T) {
	fb := filepath.Join(t.TempDir(), "fb0")
	if err := os.WriteFile(fb, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := Detect(Env{I2C: &fakeBus{}, FBPath: fb})
	if got.Panel != HDMI {
		t.Errorf("got %+v, want hdmi", got)
	}
	// An OLED wins over HDMI: it is the box's own screen.
	got = Detect(Env{I2C: &fakeBus{devices: map[uint16]func(w, r []byte) error{0x3C: ack}}, FBPath: fb})
	if got.Panel != SSD1306 {
		t.Errorf("got %+v, want the OLED first", got)
	}
}
