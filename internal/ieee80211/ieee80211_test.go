package ieee80211

import (
	"bytes"
	"encoding/hex"
	"net"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	apMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0}
	staMAC = net.HardwareAddr{0x02, 0, 0, 0, 1, 0}
)

func testBSS() *BSS {
	return &BSS{
		BSSID: apMAC, SSID: "Kibitz-0000", Channel: 6, BeaconInterval: 100,
		Capability: CapESS, Rates: Rates2GHz,
		Country: CountryElement("DE", 1, 13, 20),
	}
}

// The golden bytes are written by hand from IEEE 802.11-2020 §9.3.3.2
// (beacon body) and §9.4.2 (elements), not produced by this package.
func TestBeaconGolden(t *testing.T) {
	s := testBSS()
	head := unhex(t, `
		8000 0000 ffffffffffff 020000000000 020000000000 0000
		0000000000000000 6400 0100
		00 0b 4b696269747a2d30303030
		01 08 82848b960c121824
		03 01 06`)
	if got := s.BeaconHead(); !bytes.Equal(got, head) {
		t.Errorf("beacon head\n got %x\nwant %x", got, head)
	}
	tail := unhex(t, `
		07 06 444520 010d14
		2a 01 00
		32 04 3048606c`)
	if got := s.BeaconTail(); !bytes.Equal(got, tail) {
		t.Errorf("beacon tail\n got %x\nwant %x", got, tail)
	}
	s.Hidden = true
	if got := s.BeaconHead(); !bytes.Contains(got, []byte{0x64, 0, 1, 0, 0, 0, 1, 8}) {
		t.Errorf("hidden beacon head has no empty SSID element: %x", got)
	}
}

func TestBeacon5GHz(t *testing.T) {
	s := &BSS{BSSID: apMAC, SSID: "K", Channel: 36, BeaconInterval: 100, Capability: CapESS, Rates: RatesFor(36)}
	head := unhex(t, `8000 0000 ffffffffffff 020000000000 020000000000 0000
		0000000000000000 6400 0100
		00 01 4b
		01 08 8c129824b048606c
		03 01 24`)
	if got := s.BeaconHead(); !bytes.Equal(got, head) {
		t.Errorf("5 GHz beacon head\n got %x\nwant %x", got, head)
	}
	if tail := s.BeaconTail(); len(tail) != 0 {
		t.Errorf("5 GHz beacon tail %x, want none (no ERP, no extended rates)", tail)
	}
}

func TestCountryElementWorld(t *testing.T) {
	if e := CountryElement("00", 1, 11, 20); e != nil {
		t.Errorf("world domain got a Country element %x", e)
	}
}

func TestResponsesGolden(t *testing.T) {
	s := testBSS()
	auth := unhex(t, `b000 0000 020000000100 020000000000 020000000000 0000 0000 0200 0000`)
	if got := s.AuthResponse(staMAC, 0, StatusSuccess); !bytes.Equal(got, auth) {
		t.Errorf("auth response\n got %x\nwant %x", got, auth)
	}
	assoc := unhex(t, `1000 0000 020000000100 020000000000 020000000000 0000
		0100 0000 01c0
		01 08 82848b960c121824
		32 04 3048606c`)
	if got := s.AssocResponse(staMAC, false, StatusSuccess, 1); !bytes.Equal(got, assoc) {
		t.Errorf("assoc response\n got %x\nwant %x", got, assoc)
	}
	if got := s.AssocResponse(staMAC, true, StatusSuccess, 1); got[0] != 0x30 {
		t.Errorf("reassoc response frame control %#x, want 0x30", got[0])
	}
	deauth := unhex(t, `c000 0000 020000000100 020000000000 020000000000 0000 0400`)
	if got := s.Deauth(staMAC, false, ReasonInactivity); !bytes.Equal(got, deauth) {
		t.Errorf("deauth\n got %x\nwant %x", got, deauth)
	}
	probe := s.ProbeResponse(staMAC)
	if probe[0] != 0x50 || !bytes.Equal(probe[4:10], staMAC) {
		t.Errorf("probe response header %x", probe[:24])
	}
	f, err := ParseFrame(probe)
	if err != nil {
		t.Fatal(err)
	}
	els, err := ParseElements(f.Body[12:])
	if err != nil || string(els[ElemSSID]) != "Kibitz-0000" || !bytes.Equal(els[ElemDSParams], []byte{6}) ||
		len(els[ElemCountry]) != 6 || len(els[ElemExtRates]) != 4 {
		t.Errorf("probe response elements %v, %v", els, err)
	}
}

func TestParseAssocRequest(t *testing.T) {
	// An association request as wpa_supplicant sends it (trimmed to
	// capability, listen interval, SSID, rates, extended rates).
	frame := unhex(t, `0000 3a01 020000000000 020000000100 020000000000 1000
		2104 0500
		00 0b 4b696269747a2d30303030
		01 08 02040b160c121824
		32 04 3048606c`)
	f, err := ParseFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != FrameAssocReq || !bytes.Equal(f.SA, staMAC) || !bytes.Equal(f.BSSID, apMAC) {
		t.Fatalf("frame %+v", f)
	}
	req, err := ParseAssocRequest(f.Body, false)
	if err != nil {
		t.Fatal(err)
	}
	if req.SSID != "Kibitz-0000" || req.ListenInterval != 5 || req.Capability != 0x0421 || len(req.Rates) != 12 {
		t.Errorf("request %+v", req)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x00}, make([]byte, 23), {0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := ParseFrame(b); err == nil {
			t.Errorf("ParseFrame(%x) accepted it", b)
		}
	}
	if _, err := ParseAssocRequest([]byte{1, 0}, false); err == nil {
		t.Error("short association request accepted")
	}
	if _, err := ParseAssocRequest([]byte{1, 0, 5, 0, 0, 20, 'x'}, false); err == nil {
		t.Error("truncated element accepted")
	}
	if _, err := ParseAuth([]byte{0, 0, 1}); err == nil {
		t.Error("short auth accepted")
	}
	els, err := ParseElements([]byte{0, 2, 'a', 'b', 1, 9, 1})
	if err == nil || string(els[0]) != "ab" {
		t.Errorf("truncated list: %v %v", els, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0x00, 0x00}, false)
	f.Add(unhexF("2104050000034b6962010482848b96"), true)
	f.Fuzz(func(t *testing.T, b []byte, reassoc bool) {
		ParseAssocRequest(b, reassoc)
		ParseElements(b)
		ParseAuth(b)
		ParseFrame(b)
	})
}

func unhexF(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
