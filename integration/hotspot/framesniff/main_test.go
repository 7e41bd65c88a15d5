package main

import (
	"net"
	"testing"
)

var (
	bssid = net.HardwareAddr{2, 0, 0, 0, 0, 0}
	sta   = net.HardwareAddr{2, 0, 0, 0, 1, 0}
	other = net.HardwareAddr{2, 0, 0, 0, 9, 9}
)

// Frame control bytes (802.11-2020 9.2.4.1): byte 0 is subtype<<4 |
// type<<2, byte 1 the flags.
const (
	fcData     = 0x08 // type 2, subtype 0
	fcQoSData  = 0x88 // type 2, subtype 8
	fcNull     = 0x48 // type 2, subtype 4
	fcQoSNull  = 0xc8 // type 2, subtype 12
	fcBeacon   = 0x80 // type 0, subtype 8
	flagToDS   = 0x01
	flagFromDS = 0x02
	flagProt   = 0x40
)

// radiotap with one 4-byte field, so the parser must honour its length.
var radiotap12 = []byte{0, 0, 12, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}

// frame builds radiotap + a 24-byte data header (+2 QoS bytes) + body.
func frame(fc, flags byte, a1, a2, a3 net.HardwareAddr, body []byte) []byte {
	b := append([]byte(nil), radiotap12...)
	b = append(b, fc, flags, 0, 0)
	b = append(b, a1...)
	b = append(b, a2...)
	b = append(b, a3...)
	b = append(b, 0, 0) // sequence control
	if fc&0x80 != 0 && fc&0x0c == 0x08 {
		b = append(b, 0, 0) // QoS control
	}
	return append(b, body...)
}

// LLC/SNAP header for EAPOL (ethertype 0x888e) and for IPv4.
var (
	snapEAPOL = []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x88, 0x8e, 1, 3, 0, 0}
	snapIPv4  = []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45, 0}
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
		want  counts
	}{
		{"protected, station to AP", frame(fcData, flagToDS|flagProt, bssid, sta, bssid, []byte{1, 2, 3}), counts{protected: 1}},
		{"protected QoS, AP to station", frame(fcQoSData, flagFromDS|flagProt, sta, bssid, bssid, []byte{1, 2, 3}), counts{protected: 1}},
		{"EAPOL in the clear, AP to station", frame(fcData, flagFromDS, sta, bssid, bssid, snapEAPOL), counts{eapol: 1}},
		{"EAPOL in a QoS frame", frame(fcQoSData, flagToDS, bssid, sta, bssid, snapEAPOL), counts{eapol: 1}},
		{"clear IPv4, station to AP", frame(fcData, flagToDS, bssid, sta, bssid, snapIPv4), counts{clear: 1}},
		{"clear QoS IPv4, AP to station", frame(fcQoSData, flagFromDS, sta, bssid, bssid, snapIPv4), counts{clear: 1}},
		{"clear data without LLC header", frame(fcData, flagToDS, bssid, sta, bssid, nil), counts{clear: 1}},
		// Not counted.
		{"another BSS, to DS", frame(fcData, flagToDS, other, sta, other, snapIPv4), counts{}},
		{"another BSS, from DS", frame(fcData, flagFromDS, sta, other, other, snapIPv4), counts{}},
		{"our BSSID as the wrong address", frame(fcData, flagToDS, other, bssid, bssid, snapIPv4), counts{}},
		{"IBSS (neither DS bit)", frame(fcData, 0, sta, other, bssid, snapIPv4), counts{}},
		{"WDS (both DS bits)", frame(fcData, flagToDS|flagFromDS, bssid, bssid, bssid, snapIPv4), counts{}},
		{"null function", frame(fcNull, flagToDS, bssid, sta, bssid, nil), counts{}},
		{"QoS null", frame(fcQoSNull, flagToDS, bssid, sta, bssid, nil), counts{}},
		{"beacon", frame(fcBeacon, 0, net.HardwareAddr{255, 255, 255, 255, 255, 255}, bssid, bssid, []byte{1, 2}), counts{}},
		{"radiotap only", radiotap12, counts{}},
		{"radiotap length beyond the frame", []byte{0, 0, 200, 0, 1, 2, 3, 4}, counts{}},
		{"shorter than radiotap's header", []byte{0, 0}, counts{}},
		{"data header cut short", frame(fcData, flagToDS, bssid, sta, bssid, nil)[:12+20], counts{}},
		{"QoS header cut short", frame(fcQoSData, flagToDS, bssid, sta, bssid, nil)[:12+24], counts{}},
	} {
		var got counts
		classify(c.frame, bssid, &got)
		if got != c.want {
			t.Errorf("%s: counts %+v, want %+v", c.name, got, c.want)
		}
	}
}

// The counts add up over a sequence, the way the VM test reads them.
func TestClassifyAccumulates(t *testing.T) {
	var c counts
	for range 3 {
		classify(frame(fcQoSData, flagToDS|flagProt, bssid, sta, bssid, []byte{9}), bssid, &c)
	}
	classify(frame(fcData, flagFromDS, sta, bssid, bssid, snapEAPOL), bssid, &c)
	classify(frame(fcData, flagFromDS, sta, bssid, bssid, snapIPv4), bssid, &c)
	if c != (counts{protected: 3, eapol: 1, clear: 1}) {
		t.Errorf("counts %+v, want 3 protected, 1 EAPOL, 1 clear", c)
	}
}
