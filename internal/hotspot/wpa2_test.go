package hotspot

import (
	"bytes"
	"encoding/hex"
	"flag"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/ieee80211"
	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"github.com/kibitzbox/kibitzbox/internal/wpa"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func wiphyWith(apsme bool, ext ...int) *nl80211.Wiphy {
	w := &nl80211.Wiphy{Name: "phy0", APSME: apsme, ExtFeatures: make([]byte, 8)}
	for _, n := range ext {
		w.ExtFeatures[n/8] |= 1 << (n % 8)
	}
	for ch := 1; ch <= 13; ch++ {
		w.Channels = append(w.Channels, nl80211.Channel{FreqMHz: nl80211.ChannelToFreq(ch), MaxPowerMBm: 2000})
	}
	return w
}

func TestChooseWPA2Mode(t *testing.T) {
	brcmfmac := wiphyWith(true, nl80211.ExtFeature4WayHandshakeAPPSK, nl80211.ExtFeatureControlPortOverNL80211)
	fullmacNoOffload := wiphyWith(true)
	mac80211 := wiphyWith(false, nl80211.ExtFeatureControlPortOverNL80211)
	for _, c := range []struct {
		w         *nl80211.Wiphy
		transport string
		want      WPA2Mode
		fails     bool
	}{
		{brcmfmac, EAPOLAuto, WPA2Offload, false},
		{brcmfmac, EAPOLPacket, WPA2Offload, false}, // the firmware wins: it would not pass EAPOL up
		{fullmacNoOffload, EAPOLAuto, WPA2OursPacket, false},
		{fullmacNoOffload, EAPOLNL80211, 0, true},
		{mac80211, EAPOLAuto, WPA2Ours, false},
		{mac80211, EAPOLPacket, WPA2OursPacket, false},
		{mac80211, "smoke", 0, true},
		// A softmac radio never gets the offload, even if a bit says so.
		{wiphyWith(false, nl80211.ExtFeature4WayHandshakeAPPSK, nl80211.ExtFeatureControlPortOverNL80211), "", WPA2Ours, false},
	} {
		got, err := ChooseWPA2Mode(c.w, c.transport)
		if (err != nil) != c.fails || err == nil && got != c.want {
			t.Errorf("ChooseWPA2Mode(apsme=%v ext=%x, %q) = %v, %v; want %v (fails=%v)", c.w.APSME, c.w.ExtFeatures, c.transport, got, err, c.want, c.fails)
		}
	}
}

// The offload path cannot run on hwsim; its START_AP message is checked
// here, attribute by attribute and against golden bytes.
func TestStartAPOffloadMessage(t *testing.T) {
	const ssid, pass = "Kibitz-7F3A", "abcdefgh2345"
	auth, err := NewWPA2Authenticator(WPA2Offload, ssid, pass, slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := APConfig{
		Interface: nl80211.Interface{Index: 3, Name: "wlan0", MAC: net.HardwareAddr{0xb8, 0x27, 0xeb, 0x12, 0x7f, 0x3a}},
		Wiphy:     wiphyWith(true, nl80211.ExtFeature4WayHandshakeAPPSK),
		SSID:      ssid, Channel: 6, Country: "DE", Auth: auth,
	}
	bss := buildBSS(cfg)
	msg := startAPMessage(cfg, &bss).Encode()

	golden := filepath.Join("testdata", "start_ap_offload.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(hex.EncodeToString(msg)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(msg); got != strings.TrimSpace(string(want)) {
		t.Errorf("START_AP (offload) differs from %s:\n got %s\nwant %s", golden, got, want)
	}

	pmk, _ := wpa.PSK(pass, []byte(ssid))
	attrs := map[uint16][]byte{}
	ad, err := netlink.NewAttributeDecoder(msg)
	if err != nil {
		t.Fatal(err)
	}
	for ad.Next() {
		attrs[ad.Type()] = ad.Bytes()
	}
	u32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	for _, c := range []struct {
		name string
		attr uint16
		want []byte
	}{
		{"PRIVACY", nl80211.AttrPrivacy, []byte{}},
		{"WPA_VERSIONS", nl80211.AttrWPAVersions, u32(2)},
		{"CIPHER_SUITES_PAIRWISE", nl80211.AttrCiphersPairwise, u32(0x000fac04)},
		{"CIPHER_SUITE_GROUP", nl80211.AttrCipherGroup, u32(0x000fac04)},
		{"AKM_SUITES", nl80211.AttrAKMSuites, u32(0x000fac02)},
		{"PMK", nl80211.AttrPMK, pmk},
		{"SOCKET_OWNER", nl80211.AttrSocketOwner, []byte{}},
	} {
		if got, ok := attrs[c.attr]; !ok || !bytes.Equal(got, c.want) {
			t.Errorf("%s = %x (present %v), want %x", c.name, got, ok, c.want)
		}
	}
	// MFP must never be asked for; the firmware runs EAPOL, not we.
	for _, a := range []uint16{unix.NL80211_ATTR_USE_MFP, nl80211.AttrControlPortOverNL80211} {
		if _, ok := attrs[a]; ok {
			t.Errorf("START_AP carries attribute %d", a)
		}
	}
	head := attrs[nl80211.AttrBeaconHead]
	if len(head) < 36 || head[34]&byte(ieee80211.CapPrivacy) == 0 {
		t.Errorf("beacon capability lacks Privacy: %x", head)
	}
	if !bytes.Contains(attrs[nl80211.AttrBeaconTail], wpa.RSNE()) {
		t.Errorf("beacon tail lacks the RSN element: %x", attrs[nl80211.AttrBeaconTail])
	}
}

func TestStartAPUserspaceMessage(t *testing.T) {
	for _, mode := range []WPA2Mode{WPA2Ours, WPA2OursPacket} {
		auth, err := NewWPA2Authenticator(mode, "K", "abcdefgh2345", slog.Default(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := auth.RSN()
		if r.PMK != nil {
			t.Errorf("%v: PMK sent to a driver without the offload", mode)
		}
		if r.ControlPortOverNL80211 != (mode == WPA2Ours) {
			t.Errorf("%v: ControlPortOverNL80211 = %v", mode, r.ControlPortOverNL80211)
		}
	}
}

func TestWPA2CheckRefusesNonRSNStations(t *testing.T) {
	auth, err := NewWPA2Authenticator(WPA2Ours, "K", "abcdefgh2345", slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 1, 0}
	if st := auth.Check(mac, ieee80211.AssocRequest{IEs: []byte{0, 1, 'K'}}); st != ieee80211.StatusInvalidElement {
		t.Errorf("open station: status %d, want %d", st, ieee80211.StatusInvalidElement)
	}
	tkip := wpa.RSNE()
	copy(tkip[4:8], []byte{0x00, 0x0f, 0xac, 0x02})
	if st := auth.Check(mac, ieee80211.AssocRequest{IEs: tkip}); st != ieee80211.StatusInvalidElement {
		t.Errorf("TKIP group station: status %d", st)
	}
	if st := auth.Check(mac, ieee80211.AssocRequest{IEs: append([]byte{0, 1, 'K'}, wpa.RSNE()...)}); st != ieee80211.StatusSuccess {
		t.Errorf("WPA2-PSK CCMP station: status %d", st)
	}
}

func TestBrokenEncryptedAP(t *testing.T) {
	fake := func(model, driver string) string {
		root := t.TempDir()
		if model != "" {
			os.MkdirAll(filepath.Join(root, "proc/device-tree"), 0o755)
			os.WriteFile(filepath.Join(root, "proc/device-tree/model"), []byte(model+"\x00"), 0o644)
		}
		dev := filepath.Join(root, "sys/class/net/wlan0/device")
		os.MkdirAll(dev, 0o755)
		os.Symlink("../../../../bus/sdio/drivers/"+driver, filepath.Join(dev, "driver"))
		return root
	}
	for _, c := range []struct {
		model, driver string
		broken        bool
	}{
		{"Raspberry Pi Zero 2 W Rev 1.0", "brcmfmac", true},
		{"Raspberry Pi Zero 2 W Rev 1.0", "rt2800usb", false}, // a USB dongle on a Zero 2 W
		{"Raspberry Pi 4 Model B Rev 1.5", "brcmfmac", false},
		{"Raspberry Pi 3 Model B Plus Rev 1.3", "brcmfmac", false},
		{"", "mac80211_hwsim", false}, // a PC or the test VM: no device tree
	} {
		why := BrokenEncryptedAP(fake(c.model, c.driver), "wlan0")
		if (why != "") != c.broken {
			t.Errorf("%q with %s: %q, want broken=%v", c.model, c.driver, why, c.broken)
		}
		if c.broken && !strings.Contains(why, "open") {
			t.Errorf("reason %q does not say the network is open", why)
		}
	}
}
