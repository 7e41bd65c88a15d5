package epd2in13

import (
	"bytes"
	"context"
	"errors"
	"image"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"github.com/kibitzbox/kibitzbox/hardware/spifake"
)

type rig struct {
	bus  *spifake.Bus
	busy *gpiotest.Pin
	rst  *gpiotest.Pin
	dev  *Dev
}

func newRig(t *testing.T, timeout time.Duration) *rig {
	t.Helper()
	return newRigOpts(t, Opts{BusyTimeout: timeout})
}

func newRigOpts(t *testing.T, opts Opts) *rig {
	t.Helper()
	r := &rig{bus: spifake.New(), busy: &gpiotest.Pin{N: "BUSY"}, rst: &gpiotest.Pin{N: "RST"}}
	opts.Delay = func(time.Duration) {}
	d, err := New(r.bus.Port(), Pins{DC: r.bus.DC(), RST: r.rst, BUSY: r.busy}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// New sets a pull-up; a real panel then drives BUSY low when idle.
	r.busy.Out(gpio.Low)
	r.dev = d
	return r
}

func white() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, Width, Height))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	return img
}

func cmds(t *testing.T, b *spifake.Bus) []spifake.Command {
	t.Helper()
	c, err := b.Commands()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func expect(t *testing.T, got []spifake.Command, want []spifake.Command) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d commands, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i].Cmd != want[i].Cmd || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("command %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPackCorners(t *testing.T) {
	img := white()
	img.Pix[img.PixOffset(0, 0)] = 0     // → column 0, row 249
	img.Pix[img.PixOffset(249, 121)] = 0 // → column 121, row 0
	frame := Pack(img, false)
	if len(frame) != 4000 {
		t.Fatalf("frame is %d bytes, want 4000", len(frame))
	}
	want := bytes.Repeat([]byte{0xFF}, 4000)
	want[249*16+0] = 0x7F
	want[0*16+15] = 0xBF
	if !bytes.Equal(frame, want) {
		for i := range frame {
			if frame[i] != want[i] {
				t.Fatalf("byte %d = %#02x, want %#02x", i, frame[i], want[i])
			}
		}
	}
	// Upside down, the same pixels swap places.
	flipped := Pack(img, true)
	if flipped[249*16] != 0x7F || flipped[15] != 0xBF {
		t.Errorf("rotate180 moved the corners: %#02x %#02x", flipped[249*16], flipped[15])
	}
}

func TestFullRefreshSequence(t *testing.T) {
	r := newRig(t, time.Second)
	img := white()
	img.Pix[img.PixOffset(0, 0)] = 0
	if err := r.dev.Full(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	frame := Pack(img, false)
	expect(t, cmds(t, r.bus), []spifake.Command{
		{Cmd: 0x12},
		{Cmd: 0x01, Data: []byte{0xF9, 0x00, 0x00}},
		{Cmd: 0x11, Data: []byte{0x03}},
		{Cmd: 0x44, Data: []byte{0x00, 0x0F}},
		{Cmd: 0x45, Data: []byte{0x00, 0x00, 0xF9, 0x00}},
		{Cmd: 0x4E, Data: []byte{0x00}},
		{Cmd: 0x4F, Data: []byte{0x00, 0x00}},
		{Cmd: 0x3C, Data: []byte{0x05}},
		{Cmd: 0x21, Data: []byte{0x00, 0x80}},
		{Cmd: 0x18, Data: []byte{0x80}},
		{Cmd: 0x24, Data: frame},
		{Cmd: 0x26, Data: frame},
		{Cmd: 0x22, Data: []byte{0xF7}},
		{Cmd: 0x20},
		{Cmd: 0x10, Data: []byte{0x01}},
	})
	if r.bus.Freq != 4*physic.MegaHertz {
		t.Errorf("SPI clock %v, want 4 MHz", r.bus.Freq)
	}
	if r.rst.Read() != gpio.High {
		t.Error("RST left low: the controller would stay in reset")
	}
}

func TestFullRefreshWaitsForBusy(t *testing.T) {
	r := newRig(t, 2*time.Second)
	var cleared atomic.Bool
	r.bus.OnCommand = func(c byte) {
		switch c {
		case 0x20: // activate: the panel is busy for a while
			r.busy.Out(gpio.High)
			time.AfterFunc(50*time.Millisecond, func() { cleared.Store(true); r.busy.Out(gpio.Low) })
		case 0x10:
			if !cleared.Load() {
				t.Error("deep sleep sent while the refresh was still running")
			}
		}
	}
	if err := r.dev.Full(context.Background(), white()); err != nil {
		t.Fatal(err)
	}
}

func TestBusyTimeout(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	r.busy.Out(gpio.High) // no panel: the pull-up keeps BUSY high
	done := make(chan error, 1)
	go func() { done <- r.dev.Full(context.Background(), white()) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBusyTimeout) {
			t.Fatalf("err = %v, want ErrBusyTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Full hung on a BUSY line stuck high")
	}
	// Nothing past the reset wait was sent.
	if c := cmds(t, r.bus); len(c) != 0 {
		t.Errorf("sent %v to a panel that never became ready", c)
	}
	// And the next partial refresh must not pretend to work.
	if err := r.dev.Partial(context.Background(), white()); err == nil {
		t.Error("partial refresh after a failed full refresh succeeded")
	}
}

func TestBusyWaitHonoursContext(t *testing.T) {
	r := newRig(t, time.Hour)
	r.busy.Out(gpio.High)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.dev.Full(ctx, white()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestPartialRefreshWindow(t *testing.T) {
	r := newRigOpts(t, Opts{BusyTimeout: time.Second, WindowedPartial: true})
	ctx := context.Background()
	if err := r.dev.Partial(ctx, white()); err == nil {
		t.Fatal("partial before any full refresh succeeded")
	}
	if err := r.dev.Full(ctx, white()); err != nil {
		t.Fatal(err)
	}
	r.bus.Reset()

	// A black 10×3 block at landscape x=100..109, y=20..22 lands in panel
	// columns 20..22 (byte column 2) and rows 140..149.
	img := white()
	for y := 20; y < 23; y++ {
		for x := 100; x < 110; x++ {
			img.Pix[img.PixOffset(x, y)] = 0
		}
	}
	if err := r.dev.Partial(ctx, img); err != nil {
		t.Fatal(err)
	}
	prev := bytes.Repeat([]byte{0xFF}, 10)
	next := bytes.Repeat([]byte{0xFF &^ 0x0E}, 10) // columns 20,21,22 = bits 4,5,6 from MSB of byte 2
	win := []spifake.Command{
		{Cmd: 0x44, Data: []byte{0x02, 0x02}},
		{Cmd: 0x45, Data: []byte{140, 0x00, 149, 0x00}},
		{Cmd: 0x4E, Data: []byte{0x02}},
		{Cmd: 0x4F, Data: []byte{140, 0x00}},
	}
	var want []spifake.Command
	want = append(want,
		spifake.Command{Cmd: 0x3C, Data: []byte{0x80}},
		spifake.Command{Cmd: 0x01, Data: []byte{0xF9, 0x00, 0x00}},
		spifake.Command{Cmd: 0x11, Data: []byte{0x03}})
	want = append(want, win...)
	want = append(want, spifake.Command{Cmd: 0x26, Data: prev})
	want = append(want, win...)
	want = append(want, spifake.Command{Cmd: 0x24, Data: next},
		spifake.Command{Cmd: 0x22, Data: []byte{0xFF}},
		spifake.Command{Cmd: 0x20})
	want = append(want, win...)
	want = append(want, spifake.Command{Cmd: 0x26, Data: next}, spifake.Command{Cmd: 0x10, Data: []byte{0x01}})
	expect(t, cmds(t, r.bus), want)

	// The same picture again changes nothing, so nothing is sent.
	r.bus.Reset()
	if err := r.dev.Partial(ctx, img); err != nil {
		t.Fatal(err)
	}
	if c := cmds(t, r.bus); len(c) != 0 {
		t.Errorf("unchanged picture sent %v", c)
	}
}

func TestPartialRefreshFullFrames(t *testing.T) {
	// The default, as Waveshare's driver does it: both RAMs rewritten in
	// full, old picture then new, then the partial update.
	r := newRig(t, time.Second)
	ctx := context.Background()
	if err := r.dev.Full(ctx, white()); err != nil {
		t.Fatal(err)
	}
	r.bus.Reset()
	img := white()
	img.Pix[img.PixOffset(7, 7)] = 0
	if err := r.dev.Partial(ctx, img); err != nil {
		t.Fatal(err)
	}
	win := []spifake.Command{
		{Cmd: 0x44, Data: []byte{0x00, 0x0F}},
		{Cmd: 0x45, Data: []byte{0x00, 0x00, 0xF9, 0x00}},
		{Cmd: 0x4E, Data: []byte{0x00}},
		{Cmd: 0x4F, Data: []byte{0x00, 0x00}},
	}
	want := []spifake.Command{
		{Cmd: 0x3C, Data: []byte{0x80}},
		{Cmd: 0x01, Data: []byte{0xF9, 0x00, 0x00}},
		{Cmd: 0x11, Data: []byte{0x03}},
	}
	want = append(want, win...)
	want = append(want, spifake.Command{Cmd: 0x26, Data: Pack(white(), false)})
	want = append(want, win...)
	want = append(want,
		spifake.Command{Cmd: 0x24, Data: Pack(img, false)},
		spifake.Command{Cmd: 0x22, Data: []byte{0xFF}},
		spifake.Command{Cmd: 0x20},
		spifake.Command{Cmd: 0x10, Data: []byte{0x01}})
	expect(t, cmds(t, r.bus), want)

	// The next partial diffs against what is now shown.
	r.bus.Reset()
	if err := r.dev.Partial(ctx, white()); err != nil {
		t.Fatal(err)
	}
	c := cmds(t, r.bus)
	if len(c) < 8 || c[7].Cmd != 0x26 || !bytes.Equal(c[7].Data, Pack(img, false)) {
		t.Errorf("second partial did not send the shown picture as the old one: %v", c)
	}
}
