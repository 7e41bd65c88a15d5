// Package ieee80211 builds and parses the IEEE 802.11 management frames and
// information elements an access point sends and receives: beacons, probe
// responses, authentication and (re)association frames.
package ieee80211

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// Management frame subtypes, already shifted into the frame-control field
// (type 0 = management), as nl80211's REGISTER_FRAME expects them.
const (
	FrameAssocReq    uint16 = 0x0000
	FrameAssocResp   uint16 = 0x0010
	FrameReassocReq  uint16 = 0x0020
	FrameReassocResp uint16 = 0x0030
	FrameProbeReq    uint16 = 0x0040
	FrameProbeResp   uint16 = 0x0050
	FrameBeacon      uint16 = 0x0080
	FrameDisassoc    uint16 = 0x00a0
	FrameAuth        uint16 = 0x00b0
	FrameDeauth      uint16 = 0x00c0
)

// Element IDs.
const (
	ElemSSID        = 0
	ElemRates       = 1
	ElemDSParams    = 3
	ElemTIM         = 5
	ElemCountry     = 7
	ElemERP         = 42
	ElemRSN         = 48
	ElemExtRates    = 50
	ElemVendor      = 221
	maxElementBytes = 255
)

// Capability bits.
const (
	CapESS     uint16 = 1 << 0
	CapPrivacy uint16 = 1 << 4
)

// Status and reason codes used by the AP.
const (
	StatusSuccess              uint16 = 0
	StatusUnspecified          uint16 = 1
	StatusUnsupportedAuthAlg   uint16 = 13
	StatusAPFull               uint16 = 17
	StatusInvalidElement       uint16 = 40
	ReasonUnspecified          uint16 = 1
	ReasonInactivity           uint16 = 4
	ReasonClass2FromNonAuthSTA uint16 = 6
	ReasonLeaving              uint16 = 3
)

// HeaderLen is the length of a management frame header.
const HeaderLen = 24

// Broadcast is the broadcast address.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Rates2GHz are the 802.11b/g rates in 500 kbit/s units; the four 11b rates
// are basic (bit 7), so old and new stations can all join.
var Rates2GHz = []byte{0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24, 0x30, 0x48, 0x60, 0x6c}

// Rates5GHz are the 802.11a rates; 6, 12 and 24 Mbit/s are basic.
var Rates5GHz = []byte{0x8c, 0x12, 0x98, 0x24, 0xb0, 0x48, 0x60, 0x6c}

// RatesFor returns the rates for a channel (1–14: 2.4 GHz, else 5 GHz).
func RatesFor(channel int) []byte {
	if channel <= 14 {
		return Rates2GHz
	}
	return Rates5GHz
}

// Element appends one information element to b.
func Element(b []byte, id byte, data []byte) []byte {
	if len(data) > maxElementBytes {
		data = data[:maxElementBytes]
	}
	b = append(b, id, byte(len(data)))
	return append(b, data...)
}

// RateElements appends the Supported Rates element (up to eight rates) and,
// for more, the Extended Supported Rates element.
func RateElements(b []byte, rates []byte) []byte {
	n := min(len(rates), 8)
	b = Element(b, ElemRates, rates[:n])
	if len(rates) > 8 {
		b = Element(b, ElemExtRates, rates[8:])
	}
	return b
}

// CountryElement returns the Country element for alpha2 with one
// subband triplet, or nil for the world domain "00".
func CountryElement(alpha2 string, firstChannel, numChannels, maxPowerDBm int) []byte {
	if len(alpha2) != 2 || alpha2 == "00" {
		return nil
	}
	// Third octet 0x20: the rules apply to all environments.
	data := []byte{alpha2[0], alpha2[1], 0x20, byte(firstChannel), byte(numChannels), byte(maxPowerDBm)}
	return Element(nil, ElemCountry, data)
}

// MgmtHeader appends a management frame header.
func MgmtHeader(b []byte, frameType uint16, da, sa, bssid net.HardwareAddr) []byte {
	b = binary.LittleEndian.AppendUint16(b, frameType)
	b = append(b, 0, 0) // duration: filled by the driver
	b = append(b, da[:6]...)
	b = append(b, sa[:6]...)
	b = append(b, bssid[:6]...)
	return append(b, 0, 0) // sequence control: assigned by the driver
}

// BSS describes the network an AP announces.
type BSS struct {
	BSSID          net.HardwareAddr
	SSID           string
	Hidden         bool
	Channel        int
	BeaconInterval uint16
	Capability     uint16
	Rates          []byte
	Country        []byte // a complete Country element, or nil
	// ExtraTail holds further elements (e.g. RSN) for beacon tails,
	// probe responses and association responses.
	ExtraTail []byte
}

// fixedFields appends timestamp (zero; the hardware stamps beacons),
// beacon interval and capability.
func (s *BSS) fixedFields(b []byte) []byte {
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint16(b, s.BeaconInterval)
	return binary.LittleEndian.AppendUint16(b, s.Capability)
}

// BeaconHead returns the beacon up to and including the DS Parameter Set;
// the kernel inserts the TIM after it.
func (s *BSS) BeaconHead() []byte {
	b := MgmtHeader(nil, FrameBeacon, Broadcast, s.BSSID, s.BSSID)
	b = s.fixedFields(b)
	ssid := []byte(s.SSID)
	if s.Hidden {
		ssid = nil
	}
	b = Element(b, ElemSSID, ssid)
	n := min(len(s.Rates), 8)
	b = Element(b, ElemRates, s.Rates[:n])
	return Element(b, ElemDSParams, []byte{byte(s.Channel)})
}

// BeaconTail returns the elements after the TIM: Country, ERP, Extended
// Supported Rates and ExtraTail.
func (s *BSS) BeaconTail() []byte {
	var b []byte
	b = append(b, s.Country...)
	if s.Channel <= 14 {
		// ERP exists only on 2.4 GHz; no non-ERP stations seen yet.
		b = Element(b, ElemERP, []byte{0})
	}
	if len(s.Rates) > 8 {
		b = Element(b, ElemExtRates, s.Rates[8:])
	}
	return append(b, s.ExtraTail...)
}

// ProbeResponse returns a probe response to sta.
func (s *BSS) ProbeResponse(sta net.HardwareAddr) []byte {
	b := MgmtHeader(nil, FrameProbeResp, sta, s.BSSID, s.BSSID)
	b = s.fixedFields(b)
	b = Element(b, ElemSSID, []byte(s.SSID))
	n := min(len(s.Rates), 8)
	b = Element(b, ElemRates, s.Rates[:n])
	b = Element(b, ElemDSParams, []byte{byte(s.Channel)})
	return append(b, s.BeaconTail()...)
}

// AuthResponse returns an Open System authentication response (sequence 2).
func (s *BSS) AuthResponse(sta net.HardwareAddr, alg, status uint16) []byte {
	b := MgmtHeader(nil, FrameAuth, sta, s.BSSID, s.BSSID)
	b = binary.LittleEndian.AppendUint16(b, alg)
	b = binary.LittleEndian.AppendUint16(b, 2)
	return binary.LittleEndian.AppendUint16(b, status)
}

// AssocResponse returns a (re)association response.
func (s *BSS) AssocResponse(sta net.HardwareAddr, reassoc bool, status uint16, aid int) []byte {
	ft := FrameAssocResp
	if reassoc {
		ft = FrameReassocResp
	}
	b := MgmtHeader(nil, ft, sta, s.BSSID, s.BSSID)
	b = binary.LittleEndian.AppendUint16(b, s.Capability)
	b = binary.LittleEndian.AppendUint16(b, status)
	// The two top bits of the AID field are set, as the standard requires.
	b = binary.LittleEndian.AppendUint16(b, uint16(aid)|0xc000)
	return RateElements(b, s.Rates)
}

// Deauth returns a deauthentication (or, with disassoc, disassociation) frame.
func (s *BSS) Deauth(sta net.HardwareAddr, disassoc bool, reason uint16) []byte {
	ft := FrameDeauth
	if disassoc {
		ft = FrameDisassoc
	}
	b := MgmtHeader(nil, ft, sta, s.BSSID, s.BSSID)
	return binary.LittleEndian.AppendUint16(b, reason)
}

// Frame is a parsed management frame.
type Frame struct {
	Type  uint16 // frame control with flags masked off: type and subtype
	DA    net.HardwareAddr
	SA    net.HardwareAddr
	BSSID net.HardwareAddr
	Body  []byte
}

// ErrShort is returned for frames too short for their type.
var ErrShort = errors.New("frame too short")

// ParseFrame parses a management frame header.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < HeaderLen {
		return Frame{}, fmt.Errorf("management frame of %d bytes: %w", len(b), ErrShort)
	}
	fc := binary.LittleEndian.Uint16(b)
	if fc&0x000c != 0 {
		return Frame{}, fmt.Errorf("frame control %#04x is not a management frame", fc)
	}
	return Frame{
		Type:  fc & 0x00fc,
		DA:    net.HardwareAddr(b[4:10]),
		SA:    net.HardwareAddr(b[10:16]),
		BSSID: net.HardwareAddr(b[16:22]),
		Body:  b[HeaderLen:],
	}, nil
}

// Elements maps element IDs to their first occurrence's data.
type Elements map[byte][]byte

// ParseElements parses an element list. A truncated last element ends the
// list with an error, but the elements before it are returned.
func ParseElements(b []byte) (Elements, error) {
	els := Elements{}
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return els, fmt.Errorf("element list: %w", ErrShort)
		}
		id, n := b[0], int(b[1])
		if _, dup := els[id]; !dup {
			els[id] = b[2 : 2+n]
		}
		b = b[2+n:]
	}
	return els, nil
}

// Auth is an authentication frame's fixed fields.
type Auth struct {
	Algorithm uint16
	Seq       uint16
	Status    uint16
}

// ParseAuth parses an authentication frame body.
func ParseAuth(body []byte) (Auth, error) {
	if len(body) < 6 {
		return Auth{}, fmt.Errorf("authentication body of %d bytes: %w", len(body), ErrShort)
	}
	return Auth{
		Algorithm: binary.LittleEndian.Uint16(body[0:]),
		Seq:       binary.LittleEndian.Uint16(body[2:]),
		Status:    binary.LittleEndian.Uint16(body[4:]),
	}, nil
}

// AssocRequest is a parsed (re)association request.
type AssocRequest struct {
	Capability     uint16
	ListenInterval uint16
	SSID           string
	Rates          []byte // Supported plus Extended Supported Rates
	Elements       Elements
	// IEs is the raw element list (an authenticator needs the RSN element
	// exactly as sent).
	IEs []byte
}

// ParseAssocRequest parses the body of an association (or, with reassoc,
// reassociation) request.
func ParseAssocRequest(body []byte, reassoc bool) (AssocRequest, error) {
	fixed := 4
	if reassoc {
		fixed += 6 // current AP address
	}
	if len(body) < fixed {
		return AssocRequest{}, fmt.Errorf("association request body of %d bytes: %w", len(body), ErrShort)
	}
	req := AssocRequest{
		Capability:     binary.LittleEndian.Uint16(body[0:]),
		ListenInterval: binary.LittleEndian.Uint16(body[2:]),
		IEs:            body[fixed:],
	}
	els, err := ParseElements(body[fixed:])
	req.Elements = els
	ssid, ok := els[ElemSSID]
	if !ok {
		if err == nil {
			err = errors.New("association request without SSID element")
		}
		return req, err
	}
	req.SSID = string(ssid)
	req.Rates = append(append([]byte(nil), els[ElemRates]...), els[ElemExtRates]...)
	if len(req.Rates) == 0 {
		return req, errors.New("association request without supported rates")
	}
	return req, nil
}
