package wpa

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EAPOL packet type and key descriptor values used by WPA2.
const (
	eapolVersion      = 2 // IEEE 802.1X-2004
	eapolTypeKey      = 3
	descriptorTypeRSN = 2

	headerLen = 4                                        // EAPOL header
	fixedLen  = 1 + 2 + 2 + 8 + 32 + 16 + 8 + 8 + 16 + 2 // EAPOL-Key body before the key data
	micOffset = headerLen + 1 + 2 + 2 + 8 + 32 + 16 + 8 + 8

	// MaxFrameLen bounds what Parse accepts; real EAPOL-Key frames are a
	// few hundred bytes.
	MaxFrameLen = 2048
)

// KeyInfo is the EAPOL-Key Key Information field.
type KeyInfo uint16

// Key Information bits (IEEE 802.11-2020 Figure 12-33).
const (
	KeyInfoVersionMask KeyInfo = 0x0007
	KeyInfoVersion2    KeyInfo = 0x0002 // HMAC-SHA1-128 MIC, AES key wrap
	KeyInfoPairwise    KeyInfo = 1 << 3
	KeyInfoInstall     KeyInfo = 1 << 6
	KeyInfoAck         KeyInfo = 1 << 7
	KeyInfoMIC         KeyInfo = 1 << 8
	KeyInfoSecure      KeyInfo = 1 << 9
	KeyInfoError       KeyInfo = 1 << 10
	KeyInfoRequest     KeyInfo = 1 << 11
	KeyInfoEncrypted   KeyInfo = 1 << 12
)

// KeyFrame is a decoded EAPOL-Key frame with an RSN key descriptor.
type KeyFrame struct {
	Version       uint8 // EAPOL protocol version
	Info          KeyInfo
	KeyLength     uint16
	ReplayCounter uint64
	Nonce         [32]byte
	IV            [16]byte
	RSC           [8]byte
	MIC           [16]byte
	Data          []byte
}

// Marshal encodes f as an EAPOL frame (header included).
func (f *KeyFrame) Marshal() []byte {
	b := make([]byte, headerLen+fixedLen+len(f.Data))
	v := f.Version
	if v == 0 {
		v = eapolVersion
	}
	b[0] = v
	b[1] = eapolTypeKey
	binary.BigEndian.PutUint16(b[2:], uint16(fixedLen+len(f.Data)))
	p := b[headerLen:]
	p[0] = descriptorTypeRSN
	binary.BigEndian.PutUint16(p[1:], uint16(f.Info))
	binary.BigEndian.PutUint16(p[3:], f.KeyLength)
	binary.BigEndian.PutUint64(p[5:], f.ReplayCounter)
	copy(p[13:], f.Nonce[:])
	copy(p[45:], f.IV[:])
	copy(p[61:], f.RSC[:])
	// p[69:77] reserved
	copy(p[77:], f.MIC[:])
	binary.BigEndian.PutUint16(p[93:], uint16(len(f.Data)))
	copy(p[95:], f.Data)
	return b
}

// Errors from Parse.
var (
	ErrShort      = errors.New("eapol: frame too short")
	ErrNotKey     = errors.New("eapol: not an EAPOL-Key frame")
	ErrDescriptor = errors.New("eapol: not an RSN key descriptor")
	ErrLength     = errors.New("eapol: inconsistent length fields")
)

// Parse decodes an EAPOL-Key frame. It never panics on any input and
// returns an error for anything that is not a well-formed RSN EAPOL-Key
// frame. Bytes after the EAPOL body (link-layer padding) are ignored.
func Parse(b []byte) (*KeyFrame, error) {
	if len(b) > MaxFrameLen {
		return nil, fmt.Errorf("eapol: frame of %d bytes exceeds %d", len(b), MaxFrameLen)
	}
	if len(b) < headerLen {
		return nil, ErrShort
	}
	if b[1] != eapolTypeKey {
		return nil, fmt.Errorf("%w (type %d)", ErrNotKey, b[1])
	}
	body := int(binary.BigEndian.Uint16(b[2:]))
	if body < fixedLen || headerLen+body > len(b) {
		return nil, fmt.Errorf("%w: body %d, frame %d", ErrShort, body, len(b))
	}
	p := b[headerLen : headerLen+body]
	if p[0] != descriptorTypeRSN {
		return nil, fmt.Errorf("%w (%d)", ErrDescriptor, p[0])
	}
	f := &KeyFrame{
		Version:       b[0],
		Info:          KeyInfo(binary.BigEndian.Uint16(p[1:])),
		KeyLength:     binary.BigEndian.Uint16(p[3:]),
		ReplayCounter: binary.BigEndian.Uint64(p[5:]),
	}
	copy(f.Nonce[:], p[13:45])
	copy(f.IV[:], p[45:61])
	copy(f.RSC[:], p[61:69])
	copy(f.MIC[:], p[77:93])
	n := int(binary.BigEndian.Uint16(p[93:]))
	if fixedLen+n != body {
		return nil, fmt.Errorf("%w: key data %d, body %d", ErrLength, n, body)
	}
	f.Data = append([]byte(nil), p[95:95+n]...)
	return f, nil
}

// verifyMIC checks the MIC of the raw frame b (as received) with kck.
func verifyMIC(kck []byte, b []byte, f *KeyFrame) bool {
	body := int(binary.BigEndian.Uint16(b[2:]))
	frame := append([]byte(nil), b[:headerLen+body]...)
	clear(frame[micOffset : micOffset+16])
	return hmacEqual(MIC(kck, frame), f.MIC[:])
}

// sign sets f.MIC for kck and returns the encoded frame.
func sign(kck []byte, f *KeyFrame) []byte {
	f.MIC = [16]byte{}
	b := f.Marshal()
	copy(f.MIC[:], MIC(kck, b))
	copy(b[micOffset:], f.MIC[:])
	return b
}
