package fb

import (
	"fmt"
	"os"
	"unsafe"
)

// ioctl numbers from linux/vt.h and linux/kd.h.
const (
	vtOpenQry    = 0x5600
	vtGetState   = 0x5603
	vtActivate   = 0x5606
	vtWaitActive = 0x5607
	vtDisalloc   = 0x5608
	kdSetMode    = 0x4B3A
	kdText       = 0x00
	kdGraphics   = 0x01
)

// Console is a virtual terminal taken over for graphics: with the kernel
// console on tty1 (gokrazy puts console=tty1 first), fbcon would
// otherwise draw boot messages and a cursor over the picture.
type Console struct {
	tty    *os.File
	num    int
	oldNum int
}

// TakeConsole finds a free VT, switches to it and sets KD_GRAPHICS.
func TakeConsole() (*Console, error) {
	tty0, err := os.OpenFile("/dev/tty0", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/tty0: %w", err)
	}
	defer tty0.Close()
	var state struct{ active, signal, state uint16 }
	if err := ioctl(tty0, vtGetState, unsafe.Pointer(&state)); err != nil {
		return nil, fmt.Errorf("VT_GETSTATE: %w", err)
	}
	var num int32
	if err := ioctl(tty0, vtOpenQry, unsafe.Pointer(&num)); err != nil || num < 1 {
		return nil, fmt.Errorf("VT_OPENQRY (free VT %d): %w", num, err)
	}
	path := fmt.Sprintf("/dev/tty%d", num)
	tty, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c := &Console{tty: tty, num: int(num), oldNum: int(state.active)}
	if err := ioctlValue(tty, vtActivate, uintptr(num)); err != nil {
		tty.Close()
		return nil, fmt.Errorf("VT_ACTIVATE %d: %w", num, err)
	}
	if err := ioctlValue(tty, vtWaitActive, uintptr(num)); err != nil {
		tty.Close()
		return nil, fmt.Errorf("VT_WAITACTIVE %d: %w", num, err)
	}
	if err := ioctlValue(tty, kdSetMode, uintptr(kdGraphics)); err != nil {
		tty.Close()
		return nil, fmt.Errorf("KDSETMODE KD_GRAPHICS on %s: %w", path, err)
	}
	return c, nil
}

// Number is the VT in use.
func (c *Console) Number() int { return c.num }

// Release restores text mode, switches back and frees the VT.
func (c *Console) Release() error {
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	keep(ioctlValue(c.tty, kdSetMode, kdText))
	if c.oldNum > 0 {
		keep(ioctlValue(c.tty, vtActivate, uintptr(c.oldNum)))
	}
	keep(c.tty.Close())
	if tty0, err := os.OpenFile("/dev/tty0", os.O_RDWR, 0); err == nil {
		keep(ioctlValue(tty0, vtDisalloc, uintptr(c.num)))
		tty0.Close()
	}
	if first != nil {
		return fmt.Errorf("release VT %d: %w", c.num, first)
	}
	return nil
}
