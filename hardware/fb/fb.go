// Package fb draws on a Linux framebuffer (/dev/fb0: the Raspberry Pi
// firmware's "BCM2708 FB" under gokrazy, or vc4drmfb with KMS) for an HDMI
// screen. It reads the geometry with ioctls, maps the memory, and takes a
// virtual terminal in graphics mode so the kernel console does not draw
// over the picture.
package fb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl numbers from linux/fb.h.
const (
	ioctlGetVScreenInfo = 0x4600
	ioctlGetFScreenInfo = 0x4602
)

// Bitfield says where one colour channel sits in a pixel.
type Bitfield struct{ Offset, Length uint32 }

// Info is the framebuffer geometry.
type Info struct {
	Name               string
	Width, Height      int
	BitsPerPixel       int
	LineLength         int // bytes per row, may exceed Width*BitsPerPixel/8
	MemLen             int
	Red, Green, Blue   Bitfield
	VirtualW, VirtualH int
	XOffset, YOffset   int
}

// parseVar decodes struct fb_var_screeninfo (all __u32 fields).
func parseVar(b []byte, info *Info) error {
	if len(b) < 160 {
		return fmt.Errorf("fb_var_screeninfo: %d bytes, want 160", len(b))
	}
	u := func(off int) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
	info.Width, info.Height = int(u(0)), int(u(4))
	info.VirtualW, info.VirtualH = int(u(8)), int(u(12))
	info.XOffset, info.YOffset = int(u(16)), int(u(20))
	info.BitsPerPixel = int(u(24))
	info.Red = Bitfield{u(32), u(36)}
	info.Green = Bitfield{u(44), u(48)}
	info.Blue = Bitfield{u(56), u(60)}
	return nil
}

// parseFix decodes struct fb_fix_screeninfo, whose layout depends on the
// size of unsigned long (wordSize 4 or 8).
func parseFix(b []byte, wordSize int, info *Info) error {
	size, lineOff := 68, 44
	if wordSize == 8 {
		size, lineOff = 80, 48
	}
	if len(b) < size {
		return fmt.Errorf("fb_fix_screeninfo: %d bytes, want %d", len(b), size)
	}
	id := b[:16]
	if i := indexZero(id); i >= 0 {
		id = id[:i]
	}
	info.Name = string(id)
	info.MemLen = int(binary.NativeEndian.Uint32(b[16+wordSize:]))
	info.LineLength = int(binary.NativeEndian.Uint32(b[lineOff:]))
	return nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func (info Info) validate() error {
	switch {
	case info.BitsPerPixel != 16 && info.BitsPerPixel != 24 && info.BitsPerPixel != 32:
		return fmt.Errorf("framebuffer %q: %d bits per pixel not supported", info.Name, info.BitsPerPixel)
	case info.Width <= 0 || info.Height <= 0:
		return fmt.Errorf("framebuffer %q: size %d×%d", info.Name, info.Width, info.Height)
	case info.LineLength < info.Width*info.BitsPerPixel/8:
		return fmt.Errorf("framebuffer %q: line length %d too short for %d px", info.Name, info.LineLength, info.Width)
	case (info.YOffset+info.Height)*info.LineLength > info.MemLen:
		return fmt.Errorf("framebuffer %q: %d bytes of memory too small", info.Name, info.MemLen)
	}
	return nil
}

// Dev is an open framebuffer.
type Dev struct {
	f    *os.File
	mem  []byte
	info Info
}

// Open opens and maps the framebuffer device at path.
func Open(path string) (*Dev, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open framebuffer: %w", err)
	}
	var info Info
	var vbuf [160]byte
	var fbuf [80]byte
	if err := ioctl(f, ioctlGetVScreenInfo, unsafe.Pointer(&vbuf[0])); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: FBIOGET_VSCREENINFO: %w", path, err)
	}
	if err := ioctl(f, ioctlGetFScreenInfo, unsafe.Pointer(&fbuf[0])); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: FBIOGET_FSCREENINFO: %w", path, err)
	}
	if err := parseVar(vbuf[:], &info); err != nil {
		f.Close()
		return nil, err
	}
	if err := parseFix(fbuf[:], int(unsafe.Sizeof(uintptr(0))), &info); err != nil {
		f.Close()
		return nil, err
	}
	if err := info.validate(); err != nil {
		f.Close()
		return nil, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, info.MemLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: mmap %d bytes: %w", path, info.MemLen, err)
	}
	return &Dev{f: f, mem: mem, info: info}, nil
}

// ioctl passes a pointer argument.
func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// ioctlValue passes an integer argument.
func ioctlValue(f *os.File, req, arg uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, arg)
	if errno != 0 {
		return errno
	}
	return nil
}

// Info returns the geometry.
func (d *Dev) Info() Info { return d.info }

// Bounds is the visible size.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, d.info.Width, d.info.Height) }

// Show copies img (grey) to the visible part of the framebuffer.
func (d *Dev) Show(img *image.Gray) error {
	return Blit(d.mem[d.info.YOffset*d.info.LineLength:], d.info, img)
}

// Close unmaps and closes the device.
func (d *Dev) Close() error {
	err := unix.Munmap(d.mem)
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ErrShort reports a destination smaller than the geometry says.
var ErrShort = errors.New("framebuffer memory shorter than its geometry")

// Blit writes img into dst laid out as info describes: rows LineLength
// bytes apart (not Width*bpp: the firmware may pad them), pixels packed
// per the colour bitfields, little-endian. Pixels of img outside the
// screen are dropped; screen pixels outside img turn black.
func Blit(dst []byte, info Info, img *image.Gray) error {
	bpp := info.BitsPerPixel / 8
	if len(dst) < (info.Height-1)*info.LineLength+info.Width*bpp {
		return ErrShort
	}
	// One grey level → one pixel value; 256 entries beats per-pixel maths.
	var lut [256]uint32
	for v := range lut {
		lut[v] = channel(uint32(v), info.Red) | channel(uint32(v), info.Green) | channel(uint32(v), info.Blue)
	}
	b := img.Bounds()
	for y := 0; y < info.Height; y++ {
		row := dst[y*info.LineLength : y*info.LineLength+info.Width*bpp]
		sy := b.Min.Y + y
		for x := 0; x < info.Width; x++ {
			var v uint32
			if sx := b.Min.X + x; sy < b.Max.Y && sx < b.Max.X {
				v = lut[img.Pix[img.PixOffset(sx, sy)]]
			}
			p := row[x*bpp:]
			switch bpp {
			case 2:
				binary.LittleEndian.PutUint16(p, uint16(v))
			case 3:
				p[0], p[1], p[2] = byte(v), byte(v>>8), byte(v>>16)
			case 4:
				binary.LittleEndian.PutUint32(p, v)
			}
		}
	}
	return nil
}

// channel scales an 8-bit value to the field's width and shifts it in.
func channel(v uint32, f Bitfield) uint32 {
	if f.Length == 0 {
		return 0
	}
	if f.Length < 8 {
		v >>= 8 - f.Length
	}
	return v << f.Offset
}
