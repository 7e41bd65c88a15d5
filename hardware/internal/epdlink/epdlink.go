// Package epdlink is the wire protocol e-paper controllers of the Solomon
// SSD16xx family share: SPI bytes with a data/command pin, a reset pin and
// a BUSY pin that is high while the controller works.
package epdlink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// ErrBusyTimeout reports a BUSY pin that never went low: usually no panel
// is attached, or it is wired to other pins.
var ErrBusyTimeout = errors.New("e-paper BUSY did not clear (is the panel attached?)")

// Pins are the control lines besides SPI.
type Pins struct {
	DC   gpio.PinOut // low: command, high: data
	RST  gpio.PinOut // low resets
	BUSY gpio.PinIn  // high while busy
}

// Link talks to one controller.
type Link struct {
	conn  spi.Conn
	pins  Pins
	maxTx int
	// Delay sleeps; tests replace it to run without waiting.
	Delay func(time.Duration)
	// Poll is the BUSY polling interval.
	Poll time.Duration
}

// Open connects to port at freq (SPI mode 0, 8 bits) and sets BUSY as an
// input with a pull-up: the panel drives the line, and without a panel it
// reads busy, so WaitIdle times out with a clear error instead of
// pretending a refresh worked.
func Open(port spi.Port, freq physic.Frequency, pins Pins) (*Link, error) {
	if pins.DC == nil || pins.RST == nil || pins.BUSY == nil {
		return nil, errors.New("e-paper: DC, RST and BUSY pins are all required")
	}
	c, err := port.Connect(freq, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("e-paper: connect %s: %w", port, err)
	}
	if err := pins.BUSY.In(gpio.PullUp, gpio.NoEdge); err != nil {
		return nil, fmt.Errorf("e-paper: BUSY pin %s as input: %w", pins.BUSY, err)
	}
	return &Link{conn: c, pins: pins, maxTx: 4096, Delay: time.Sleep, Poll: 5 * time.Millisecond}, nil
}

// Command sends cmd and then its data bytes.
func (l *Link) Command(cmd byte, data ...byte) error {
	if err := l.pins.DC.Out(gpio.Low); err != nil {
		return fmt.Errorf("e-paper: DC low: %w", err)
	}
	if err := l.conn.Tx([]byte{cmd}, nil); err != nil {
		return fmt.Errorf("e-paper: command %#02x: %w", cmd, err)
	}
	if len(data) == 0 {
		return nil
	}
	return l.Data(data)
}

// Data sends data bytes in chunks spidev accepts.
func (l *Link) Data(data []byte) error {
	if err := l.pins.DC.Out(gpio.High); err != nil {
		return fmt.Errorf("e-paper: DC high: %w", err)
	}
	for len(data) > 0 {
		n := min(len(data), l.maxTx)
		if err := l.conn.Tx(data[:n], nil); err != nil {
			return fmt.Errorf("e-paper: %d data bytes: %w", n, err)
		}
		data = data[n:]
	}
	return nil
}

// Reset pulses RST: high for before, low for low, high for after.
func (l *Link) Reset(before, low, after time.Duration) error {
	for _, step := range []struct {
		level gpio.Level
		d     time.Duration
	}{{gpio.High, before}, {gpio.Low, low}, {gpio.High, after}} {
		if err := l.pins.RST.Out(step.level); err != nil {
			return fmt.Errorf("e-paper: reset pin: %w", err)
		}
		l.Delay(step.d)
	}
	return nil
}

// WaitIdle waits until BUSY is low, for at most timeout.
func (l *Link) WaitIdle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for l.pins.BUSY.Read() == gpio.High {
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, ErrBusyTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("e-paper: waiting for BUSY: %w", ctx.Err())
		case <-time.After(l.Poll):
		}
	}
	return nil
}
