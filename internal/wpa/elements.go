package wpa

import (
	"crypto/subtle"
	"fmt"
)

// Suite selectors (OUI 00-0F-AC).
var (
	suiteCCMP = []byte{0x00, 0x0f, 0xac, 0x04}
	suitePSK  = []byte{0x00, 0x0f, 0xac, 0x02}
)

// RSNE returns the RSN element the AP advertises for WPA2-Personal with
// CCMP-128 as group and pairwise cipher and PSK as AKM. Management frame
// protection stays off (capabilities 0): brcmfmac's offload and many phones
// misbehave with it, and the issue rules it out.
func RSNE() []byte {
	e := []byte{0x30, 20, 0x01, 0x00}
	e = append(e, suiteCCMP...)
	e = append(e, 0x01, 0x00)
	e = append(e, suiteCCMP...)
	e = append(e, 0x01, 0x00)
	e = append(e, suitePSK...)
	e = append(e, 0x00, 0x00)
	return e
}

// gtkKDE encodes a GTK key data encapsulation (§12.7.2, Table 12-10).
func gtkKDE(index int, gtk []byte) []byte {
	k := []byte{0xdd, byte(6 + len(gtk)), 0x00, 0x0f, 0xac, 0x01, byte(index & 3), 0x00}
	return append(k, gtk...)
}

// padKeyData pads key data for AES key wrap (§12.7.2): 0xdd then zeros up
// to a multiple of 8 bytes, at least 16.
func padKeyData(d []byte) []byte {
	if len(d) >= 16 && len(d)%8 == 0 {
		return d
	}
	d = append(d, 0xdd)
	for len(d) < 16 || len(d)%8 != 0 {
		d = append(d, 0)
	}
	return d
}

// findElement returns the first information element with the given id in
// the key data, including its two-byte header, or nil.
func findElement(data []byte, id byte) []byte {
	for len(data) >= 2 {
		n := int(data[1])
		if 2+n > len(data) {
			return nil
		}
		if data[0] == id {
			return data[:2+n]
		}
		data = data[2+n:]
	}
	return nil
}

// CheckStationRSNE validates the RSN element of an association request:
// WPA2-PSK with CCMP. It returns the element for the handshake to compare.
func CheckStationRSNE(ies []byte) ([]byte, error) {
	e := findElement(ies, 0x30)
	if e == nil {
		return nil, fmt.Errorf("no RSN element: the station does not speak WPA2")
	}
	b := e[2:]
	if len(b) < 2+4+2+4+2+4 || b[0] != 1 || b[1] != 0 {
		return nil, fmt.Errorf("RSN element malformed or of an unknown version (%x)", e)
	}
	if string(b[2:6]) != string(suiteCCMP) {
		return nil, fmt.Errorf("group cipher %x, want CCMP", b[2:6])
	}
	np := int(b[6]) | int(b[7])<<8
	if np != 1 || len(b) < 8+4*np+2+4 {
		return nil, fmt.Errorf("station offers %d pairwise ciphers, want exactly CCMP", np)
	}
	if string(b[8:12]) != string(suiteCCMP) {
		return nil, fmt.Errorf("pairwise cipher %x, want CCMP", b[8:12])
	}
	na := int(b[12]) | int(b[13])<<8
	if na != 1 || len(b) < 14+4 || string(b[14:18]) != string(suitePSK) {
		return nil, fmt.Errorf("station AKM is not PSK")
	}
	return e, nil
}

func hmacEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
