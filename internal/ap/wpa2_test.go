package ap

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/ieee80211"
	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"github.com/kibitzbox/kibitzbox/internal/wpa"
	"github.com/mdlayher/netlink"
)

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

// The offload path cannot run on hwsim, so its START_AP message is checked
// here attribute by attribute against expectations written by hand from
// nl80211.h (attribute numbers and values), IEEE 802.11-2020 (the beacon
// and its elements) and RFC 8018 PBKDF2 (the PMK) — not against the code's
// own constants or a snapshot of its output.
func TestStartAPOffloadMessage(t *testing.T) {
	const ssid, pass = "Kibitz-7F3A", "abcdefgh2345"
	auth, err := NewWPA2Authenticator(WPA2Offload, ssid, pass, slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	bssid := net.HardwareAddr{0xb8, 0x27, 0xeb, 0x12, 0x7f, 0x3a}
	cfg := Config{
		Interface: nl80211.Interface{Index: 3, Name: "wlan0", MAC: bssid},
		Wiphy:     wiphyWith(true, nl80211.ExtFeature4WayHandshakeAPPSK),
		SSID:      ssid, Channel: 6, Country: "DE", Auth: auth,
	}
	bss := buildBSS(cfg)
	msg := startAPMessage(cfg, &bss).Encode()

	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// PMK = PBKDF2-HMAC-SHA1(passphrase, SSID, 4096 rounds, 32 bytes).
	pmk, err := pbkdf2.Key(sha1.New, pass, []byte(ssid), 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Beacon head: management header (frame control 0x0080 = beacon,
	// duration 0, DA broadcast, SA = BSSID = our MAC, sequence 0), then the
	// fixed fields (timestamp 0, interval 100 TU, capability ESS|Privacy)
	// and the SSID, Supported Rates and DS Parameter Set elements.
	head := cat(
		[]byte{0x80, 0x00, 0x00, 0x00},
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, bssid, bssid, []byte{0x00, 0x00},
		make([]byte, 8), []byte{100, 0}, []byte{0x11, 0x00},
		[]byte{0, 11}, []byte(ssid),
		// 1, 2, 5.5, 11 Mb/s (basic, bit 7) and 6, 9, 12, 18 Mb/s.
		[]byte{1, 8, 0x82, 0x84, 0x8b, 0x96, 0x0c, 0x12, 0x18, 0x24},
		[]byte{3, 1, 6},
	)
	// Beacon tail: Country "DE", environment "any" (0x20), channels 1-13
	// at 20 dBm; ERP with no flags; Extended Supported Rates 24, 36, 48,
	// 54 Mb/s; RSN: version 1, group CCMP (00-0F-AC:4), one pairwise CCMP,
	// one AKM PSK (00-0F-AC:2), capabilities 0 (no MFP).
	tail := cat(
		[]byte{7, 6, 'D', 'E', 0x20, 1, 13, 20},
		[]byte{42, 1, 0},
		[]byte{50, 4, 0x30, 0x48, 0x60, 0x6c},
		[]byte{48, 20, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 4, 1, 0, 0x00, 0x0f, 0xac, 2, 0, 0},
	)
	want := []struct {
		id   uint16
		name string
		val  []byte
	}{
		{3, "IFINDEX", le32(3)},
		{12, "BEACON_INTERVAL", le32(100)},
		{13, "DTIM_PERIOD", le32(2)},
		{14, "BEACON_HEAD", head},
		{15, "BEACON_TAIL", tail},
		{38, "WIPHY_FREQ", le32(2437)}, // channel 6
		{52, "SSID", []byte(ssid)},
		{53, "AUTH_TYPE", le32(0)},      // NL80211_AUTHTYPE_OPEN_SYSTEM
		{70, "PRIVACY", []byte{}},       // flag
		{126, "HIDDEN_SSID", le32(0)},   // NL80211_HIDDEN_SSID_NOT_IN_USE
		{159, "CHANNEL_WIDTH", le32(0)}, // NL80211_CHAN_WIDTH_20_NOHT
		{160, "CENTER_FREQ1", le32(2437)},
		{75, "WPA_VERSIONS", le32(2)},                    // NL80211_WPA_VERSION_2
		{73, "CIPHER_SUITES_PAIRWISE", le32(0x000fac04)}, // CCMP-128
		{74, "CIPHER_SUITE_GROUP", le32(0x000fac04)},
		{76, "AKM_SUITES", le32(0x000fac02)},                // PSK
		{68, "CONTROL_PORT", []byte{}},                      // flag: the station stays blocked until authorized
		{102, "CONTROL_PORT_ETHERTYPE", []byte{0x8e, 0x88}}, // 0x888e, host (little-endian) order
		{254, "PMK", pmk},
		{204, "SOCKET_OWNER", []byte{}}, // flag: the AP stops when our socket closes
	}
	got := map[uint16][]byte{}
	ad, err := netlink.NewAttributeDecoder(msg)
	if err != nil {
		t.Fatal(err)
	}
	for ad.Next() {
		if _, dup := got[ad.Type()]; dup {
			t.Errorf("attribute %d appears twice", ad.Type())
		}
		got[ad.Type()] = ad.Bytes()
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		v, ok := got[w.id]
		switch {
		case !ok:
			t.Errorf("NL80211_ATTR_%s (%d) missing", w.name, w.id)
		case !bytes.Equal(v, w.val):
			t.Errorf("NL80211_ATTR_%s (%d) = %x, want %x", w.name, w.id, v, w.val)
		}
		delete(got, w.id)
	}
	// Nothing else: in particular no USE_MFP (MFP is never asked for) and
	// no CONTROL_PORT_OVER_NL80211 (264; the firmware runs EAPOL, not we).
	for id, v := range got {
		t.Errorf("unexpected attribute %d = %x", id, v)
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

func TestCountryElementFromChannels(t *testing.T) {
	w := &nl80211.Wiphy{Name: "phy0"}
	for ch := 1; ch <= 14; ch++ {
		c := nl80211.Channel{FreqMHz: nl80211.ChannelToFreq(ch), MaxPowerMBm: 2000}
		if ch >= 12 {
			c.NoIR = true
		}
		w.Channels = append(w.Channels, c)
	}
	w.Channels = append(w.Channels, nl80211.Channel{FreqMHz: 5180, MaxPowerMBm: 2300})
	got := countryElement("US", w, 6)
	want := []byte{7, 6, 'U', 'S', 0x20, 1, 11, 20}
	if !bytes.Equal(got, want) {
		t.Errorf("country element %x, want %x", got, want)
	}
	if countryElement("00", w, 6) != nil {
		t.Error("world domain got a country element")
	}
	if err := checkChannel(w, 6); err != nil {
		t.Error(err)
	}
	if err := checkChannel(w, 13); err == nil || !strings.Contains(err.Error(), "no-IR") {
		t.Errorf("channel 13 (no-IR): %v", err)
	}
	if err := checkChannel(w, 40); err == nil || !strings.Contains(err.Error(), "usable") {
		t.Errorf("channel 40 (absent): %v", err)
	}
}

// nullPort is a wpa.Port with no stations behind it.
type nullPort struct{}

func (nullPort) SendEAPOL(net.HardwareAddr, []byte) error          { return nil }
func (nullPort) InstallPairwiseKey(net.HardwareAddr, []byte) error { return nil }
func (nullPort) Authorize(net.HardwareAddr) error                  { return nil }
func (nullPort) Deauthenticate(net.HardwareAddr, uint16) error     { return nil }

type installed struct {
	index int
	gtk   []byte
}

// rotationFixture runs rotate with a recording installer instead of
// nl80211.
func rotationFixture(t *testing.T, every time.Duration) (*WPA2Authenticator, chan installed) {
	t.Helper()
	a, err := NewWPA2Authenticator(WPA2Ours, "K", "abcdefgh2345", slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.GroupRekey = every
	auth, err := wpa.NewAuthenticator(wpa.Config{BSSID: net.HardwareAddr{2, 0, 0, 0, 0, 0}, PMK: a.pmk,
		GTK: bytes.Repeat([]byte{1}, 16), GTKIndex: 1, Logger: a.log}, nullPort{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a.ctx, a.auth, a.port, a.gtkIndex = ctx, auth, &radioPort{keyed: map[string]bool{}}, 1
	go auth.Run(ctx)
	keys := make(chan installed, 16)
	go a.rotate(ctx, func(index int, gtk []byte) error {
		keys <- installed{index, bytes.Clone(gtk)}
		return nil
	})
	return a, keys
}

func nextKey(t *testing.T, keys chan installed) installed {
	t.Helper()
	select {
	case k := <-keys:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no new group key installed")
		return installed{}
	}
}

// Issue 13 item 6: the group key changes when a station leaves (a burst
// of leaves makes one change) ...
func TestGroupKeyRotatesWhenAStationLeaves(t *testing.T) {
	a, keys := rotationFixture(t, time.Hour)
	for i := range 5 {
		a.Left(net.HardwareAddr{2, 0, 0, 0, 0, byte(i)})
	}
	k := nextKey(t, keys)
	if k.index != 2 || len(k.gtk) != 16 || bytes.Equal(k.gtk, bytes.Repeat([]byte{1}, 16)) {
		t.Fatalf("after leaves: installed %+v, want a fresh 16-byte key at index 2", k)
	}
	a.Left(net.HardwareAddr{2, 0, 0, 0, 0, 9})
	k2 := nextKey(t, keys)
	if k2.index != 1 || bytes.Equal(k2.gtk, k.gtk) {
		t.Fatalf("next leave: installed %+v, want a fresh key back at index 1", k2)
	}
	if rekeys, _ := a.Counters(); rekeys < 2 {
		t.Errorf("rekeys = %d, want >= 2", rekeys)
	}
}

// ... and on its timer (hourly on the box).
func TestGroupKeyRotatesOnTimer(t *testing.T) {
	_, keys := rotationFixture(t, 20*time.Millisecond)
	seen := map[string]bool{}
	want := 2
	for range 4 {
		k := nextKey(t, keys)
		if k.index != want {
			t.Fatalf("installed at index %d, want %d (the indices alternate)", k.index, want)
		}
		if seen[string(k.gtk)] {
			t.Fatal("a group key came back")
		}
		seen[string(k.gtk)] = true
		want = 3 - want
	}
}
