// Package wpa implements the authenticator side of WPA2-Personal
// (IEEE 802.11-2020 §12.7): key derivation, EAPOL-Key frames, AES key wrap,
// and the 4-way and group key handshakes, independent of how frames reach
// the radio.
package wpa

import (
	"bytes"
	"crypto/aes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
)

// PSK derives the pairwise master key from a passphrase (8–63 printable
// ASCII characters) and SSID: PBKDF2-SHA1(passphrase, ssid, 4096, 32).
func PSK(passphrase string, ssid []byte) ([]byte, error) {
	if n := len(passphrase); n < 8 || n > 63 {
		return nil, fmt.Errorf("passphrase has %d characters, want 8 to 63", n)
	}
	for _, c := range []byte(passphrase) {
		if c < 32 || c > 126 {
			return nil, fmt.Errorf("passphrase contains a non-printable or non-ASCII byte 0x%02x", c)
		}
	}
	if n := len(ssid); n < 1 || n > 32 {
		return nil, fmt.Errorf("SSID has %d bytes, want 1 to 32", n)
	}
	return pbkdf2.Key(sha1.New, passphrase, ssid, 4096, 32)
}

// PRF is the IEEE 802.11 pseudo-random function (§12.7.1.2) with HMAC-SHA1,
// producing bits/8 bytes.
func PRF(key []byte, label string, data []byte, bits int) []byte {
	n := bits / 8
	out := make([]byte, 0, n+sha1.Size)
	msg := make([]byte, 0, len(label)+1+len(data)+1)
	msg = append(msg, label...)
	msg = append(msg, 0)
	msg = append(msg, data...)
	msg = append(msg, 0)
	for i := byte(0); len(out) < n; i++ {
		msg[len(msg)-1] = i
		m := hmac.New(sha1.New, key)
		m.Write(msg)
		out = m.Sum(out)
	}
	return out[:n]
}

// PTK is the pairwise transient key for CCMP-128, split into its parts.
type PTK struct {
	KCK []byte // key confirmation key: EAPOL-Key MICs
	KEK []byte // key encryption key: wraps the GTK
	TK  []byte // temporal key: installed in the driver for CCMP
}

// DerivePTK computes the PTK from the PMK, both MAC addresses and both
// nonces (§12.7.1.3), ordering each pair as the standard requires.
func DerivePTK(pmk, aa, spa, anonce, snonce []byte) PTK {
	data := make([]byte, 0, 6+6+32+32)
	data = append(data, minMax(aa, spa)...)
	data = append(data, minMax(anonce, snonce)...)
	k := PRF(pmk, "Pairwise key expansion", data, 384)
	return PTK{KCK: k[0:16], KEK: k[16:32], TK: k[32:48]}
}

func minMax(a, b []byte) []byte {
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	return append(append([]byte{}, a...), b...)
}

// MIC computes the EAPOL-Key MIC for key descriptor version 2
// (HMAC-SHA1-128) over the whole EAPOL frame, whose MIC field must be zero.
func MIC(kck, frame []byte) []byte {
	m := hmac.New(sha1.New, kck)
	m.Write(frame)
	return m.Sum(nil)[:16]
}

var keyWrapIV = [8]byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// KeyWrap wraps plaintext (a multiple of 8 bytes, at least 16) with kek
// using the AES key wrap of RFC 3394.
func KeyWrap(kek, plaintext []byte) ([]byte, error) {
	if len(plaintext)%8 != 0 || len(plaintext) < 16 {
		return nil, fmt.Errorf("key wrap: plaintext of %d bytes, want a multiple of 8, at least 16", len(plaintext))
	}
	c, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key wrap: %w", err)
	}
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out, keyWrapIV[:])
	copy(out[8:], plaintext)
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			c.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:], b[8:])
		}
	}
	return out, nil
}

// ErrUnwrap means the integrity check of an AES key unwrap failed.
var ErrUnwrap = errors.New("key unwrap: integrity check failed")

// KeyUnwrap reverses KeyWrap.
func KeyUnwrap(kek, ciphertext []byte) ([]byte, error) {
	if len(ciphertext)%8 != 0 || len(ciphertext) < 24 {
		return nil, fmt.Errorf("key unwrap: ciphertext of %d bytes, want a multiple of 8, at least 24", len(ciphertext))
	}
	c, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key unwrap: %w", err)
	}
	n := len(ciphertext)/8 - 1
	a := binary.BigEndian.Uint64(ciphertext[:8])
	r := make([]byte, len(ciphertext)-8)
	copy(r, ciphertext[8:])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], a^t)
			copy(b[8:], r[8*(i-1):8*i])
			c.Decrypt(b[:], b[:])
			a = binary.BigEndian.Uint64(b[:8])
			copy(r[8*(i-1):], b[8:])
		}
	}
	if a != binary.BigEndian.Uint64(keyWrapIV[:]) {
		return nil, ErrUnwrap
	}
	return r, nil
}
