// Package spifake is a fake SPI port plus data/command (DC) pin for
// testing e-paper drivers: it records every byte together with the DC
// level it was sent with, which conn/v3's spitest cannot do.
package spifake

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Command is one controller command and the data bytes that followed it.
type Command struct {
	Cmd  byte
	Data []byte
}

func (c Command) String() string {
	if len(c.Data) > 16 {
		return fmt.Sprintf("%02X +%d bytes", c.Cmd, len(c.Data))
	}
	return fmt.Sprintf("%02X % X", c.Cmd, c.Data)
}

// Bus is the shared log of a Port and its DC pin.
type Bus struct {
	mu       sync.Mutex
	dc       gpio.Level
	commands []Command
	err      error
	// OnCommand, if set, runs after each command byte (not under the
	// lock), e.g. to raise a fake BUSY pin.
	OnCommand func(cmd byte)
	// Freq, Mode and Bits record the Connect parameters.
	Freq      physic.Frequency
	Mode      spi.Mode
	Bits      int
	connected bool
	// MaxTx is the largest Tx accepted (spidev's bufsiz, 4096 by default).
	MaxTx int
}

// New returns an empty bus.
func New() *Bus { return &Bus{MaxTx: 4096} }

// Commands returns what was sent so far. It fails the caller's test via
// the returned error when data came before any command.
func (b *Bus) Commands() ([]Command, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Command(nil), b.commands...), b.err
}

// Reset forgets what was sent.
func (b *Bus) Reset() {
	b.mu.Lock()
	b.commands, b.err = nil, nil
	b.mu.Unlock()
}

// DC returns the data/command pin: Low means the next bytes are a command.
func (b *Bus) DC() gpio.PinOut { return b.DCPin("DC", -1) }

// DCPin is DC with a name and number, for registering in gpioreg.
func (b *Bus) DCPin(name string, num int) gpio.PinIO {
	return &dcPin{Pin: gpiotest.Pin{N: name, Num: num}, bus: b}
}

// Port returns the SPI port.
func (b *Bus) Port() spi.PortCloser { return port{b} }

type dcPin struct {
	gpiotest.Pin
	bus *Bus
}

func (p *dcPin) Out(l gpio.Level) error {
	p.bus.mu.Lock()
	p.bus.dc = l
	p.bus.mu.Unlock()
	return p.Pin.Out(l)
}

type port struct{ b *Bus }

func (p port) String() string { return "spifake" }
func (p port) Close() error   { return nil }

// LimitSpeed is accepted and ignored.
func (p port) LimitSpeed(physic.Frequency) error { return nil }

func (p port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if p.b.connected {
		return nil, errors.New("spifake: Connect called twice")
	}
	p.b.connected = true
	p.b.Freq, p.b.Mode, p.b.Bits = f, mode, bits
	return connection(p), nil
}

type connection struct{ b *Bus }

func (c connection) String() string      { return "spifake" }
func (c connection) Duplex() conn.Duplex { return conn.Half }
func (c connection) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		if err := c.Tx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}

func (c connection) Tx(w, r []byte) error {
	if len(r) != 0 {
		return errors.New("spifake: the panel is write-only")
	}
	b := c.b
	b.mu.Lock()
	if len(w) > b.MaxTx {
		b.mu.Unlock()
		return fmt.Errorf("spifake: Tx of %d bytes exceeds %d", len(w), b.MaxTx)
	}
	var cmds []byte
	if b.dc == gpio.Low {
		for _, x := range w {
			b.commands = append(b.commands, Command{Cmd: x})
			cmds = append(cmds, x)
		}
	} else if len(b.commands) == 0 {
		b.err = errors.New("spifake: data before any command")
	} else {
		last := &b.commands[len(b.commands)-1]
		last.Data = append(last.Data, w...)
	}
	hook := b.OnCommand
	b.mu.Unlock()
	if hook != nil {
		for _, x := range cmds {
			hook(x)
		}
	}
	return nil
}
