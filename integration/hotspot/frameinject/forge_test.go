package main

import (
	"bytes"
	"net"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/wpa"
)

func TestMessage1AndForgedMsg2(t *testing.T) {
	bssid := net.HardwareAddr{2, 0, 0, 0, 0, 0}
	sta := net.HardwareAddr{2, 0, 0, 0, 1, 0}
	m1 := wpa.KeyFrame{Info: wpa.KeyInfoVersion2 | wpa.KeyInfoPairwise | wpa.KeyInfoAck, KeyLength: 16, ReplayCounter: 7}
	air := func(fc, flags byte, a1, a2 net.HardwareAddr, body []byte) []byte {
		b := []byte{0, 0, 8, 0, 0, 0, 0, 0, fc, flags, 0, 0}
		b = append(b, a1...)
		b = append(b, a2...)
		b = append(b, bssid...)
		b = append(b, 0, 0)
		if fc&0x80 != 0 {
			b = append(b, 0, 0)
		}
		return append(b, body...)
	}
	eapol := append(append([]byte(nil), llcEAPOL...), m1.Marshal()...)
	if r, ok := message1(air(0x88, 0x02, sta, bssid, eapol), bssid, sta); !ok || r != 7 {
		t.Fatalf("QoS message 1: %d %v, want replay 7", r, ok)
	}
	if r, ok := message1(air(0x08, 0x02, sta, bssid, eapol), bssid, sta); !ok || r != 7 {
		t.Fatalf("message 1: %d %v, want replay 7", r, ok)
	}
	other := net.HardwareAddr{2, 0, 0, 0, 2, 0}
	for name, b := range map[string][]byte{
		"to another station": air(0x08, 0x02, other, bssid, eapol),
		"to the DS":          air(0x08, 0x01, bssid, sta, eapol),
		"protected":          air(0x08, 0x42, sta, bssid, eapol),
		"not EAPOL":          air(0x08, 0x02, sta, bssid, []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0, 0x45}),
		"message 3":          air(0x08, 0x02, sta, bssid, append(append([]byte(nil), llcEAPOL...), (&wpa.KeyFrame{Info: wpa.KeyInfoVersion2 | wpa.KeyInfoPairwise | wpa.KeyInfoAck | wpa.KeyInfoMIC}).Marshal()...)),
		"truncated":          air(0x08, 0x02, sta, bssid, eapol)[:40],
	} {
		if _, ok := message1(b, bssid, sta); ok {
			t.Errorf("%s taken for message 1", name)
		}
	}

	f := forgedMsg2(bssid, sta, 7)
	if f[0] != 0x08 || f[1] != 0x01 || !bytes.Equal(f[4:10], bssid) || !bytes.Equal(f[10:16], sta) || !bytes.Equal(f[16:22], bssid) {
		t.Fatalf("forged header %x: want a data frame to the DS from the station", f[:24])
	}
	if !bytes.Equal(f[24:32], llcEAPOL) {
		t.Fatalf("forged frame lacks the EAPOL LLC header")
	}
	k, err := wpa.Parse(f[32:])
	if err != nil || k.ReplayCounter != 7 || k.Info != wpa.KeyInfoVersion2|wpa.KeyInfoPairwise|wpa.KeyInfoMIC || !bytes.Equal(k.Data, wpa.RSNE()) {
		t.Fatalf("forged message 2 %+v, %v", k, err)
	}
}
