package hotspot

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

func testService(t *testing.T, flags Config) *service {
	t.Helper()
	flags.StateDir, flags.Logger = t.TempDir(), discard()
	if err := flags.setDefaults(); err != nil {
		t.Fatal(err)
	}
	s := &service{flags: flags, log: flags.Logger, restart: make(chan struct{}, 1)}
	s.cfg = s.effective()
	return s
}

// The settings file's Wi-Fi section wins over the flags; without it the
// flags hold.
func TestSettingsOverFlags(t *testing.T) {
	s := testService(t, Config{SSID: "FromFlags", Channel: 6, Hidden: true})
	if c := s.config(); c.SSID != "FromFlags" || c.Channel != 6 || !c.Hidden {
		t.Fatalf("without a settings file: %+v", c)
	}
	w := &settings.WiFi{SSID: "Operator", Passphrase: "operator-pass", Security: "wpa2", Country: "DE", Channel: 11}
	if err := settings.Save(settings.Path(s.flags.StateDir), settings.Settings{WiFi: w}); err != nil {
		t.Fatal(err)
	}
	c := s.effective()
	if c.SSID != "Operator" || c.Passphrase != "operator-pass" || c.Channel != 11 || c.Country != "DE" || c.Hidden {
		t.Errorf("with the operator's section: %+v", c)
	}
}

// A reload restarts the AP only when the Wi-Fi changed.
func TestReloadRestartsOnlyOnChange(t *testing.T) {
	s := testService(t, Config{SSID: "Same", Channel: 6})
	h := s.handler()
	post := func(path, body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body)))
		return rec.Code
	}
	if code := post(status.ReloadPath, "{}"); code != http.StatusNoContent {
		t.Fatalf("reload: %d", code)
	}
	select {
	case <-s.restart:
		t.Fatal("a reload without changes restarted the AP")
	default:
	}
	w := &settings.WiFi{SSID: "Changed", Security: "open", Channel: 1}
	if err := settings.Save(settings.Path(s.flags.StateDir), settings.Settings{WiFi: w}); err != nil {
		t.Fatal(err)
	}
	post(status.ReloadPath, "{}")
	select {
	case <-s.restart:
	default:
		t.Fatal("a changed SSID did not restart the AP")
	}
	if c := s.config(); c.SSID != "Changed" || c.Security != "open" || c.Channel != 1 {
		t.Errorf("config after reload: %+v", c)
	}
	// Ban needs a running AP; a bad body is refused first.
	if code := post(status.BanPath, `{"ip":"10.42.0.10","seconds":0}`); code != http.StatusBadRequest {
		t.Errorf("ban for 0 s: %d, want 400", code)
	}
	if code := post(status.BanPath, `{"ip":"10.42.0.10","seconds":60}`); code != http.StatusServiceUnavailable {
		t.Errorf("ban without an AP: %d, want 503", code)
	}
}

func TestAirBudgetDefault(t *testing.T) {
	if got := airBudget(Config{Channel: 6}); got != 10000 {
		t.Errorf("2.4 GHz budget %d, want 10000", got)
	}
	if got := airBudget(Config{Channel: 6, AirBudgetKbps: 3000}); got != 3000 {
		t.Errorf("flag override %d, want 3000", got)
	}
}

// Choosing Ethernet mode on the operator page neither restarts the AP nor
// leaves the box's own Wi-Fi QR on the screen: with source "ethernet" the
// status's Wi-Fi QR joins the venue's network; back on "wifi" it is the
// box's own again. GuestInterfaces opens eth0 only while Ethernet is chosen.
func TestReloadGuestsSwitchesQR(t *testing.T) {
	s := testService(t, Config{SSID: "Box", Passphrase: "box-passphrase", Channel: 6})
	own := status.WiFiQR(status.SecurityWPA2, "Box", "box-passphrase", false)
	s.mu.Lock()
	s.doc.WiFiQR, s.ownWiFiQR = own, own
	s.setGuestsLocked(s.cfg)
	s.mu.Unlock()
	reload := func(g *settings.Guests) status.Hotspot {
		t.Helper()
		if err := settings.Save(settings.Path(s.flags.StateDir), settings.Settings{Guests: g}); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, status.ReloadPath, nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("reload: %d", rec.Code)
		}
		select {
		case <-s.restart:
			t.Errorf("changing the guest source restarted the AP")
		default:
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.doc
	}
	if s.doc.GuestSource != settings.SourceWiFi || s.doc.WiFiQR != own || s.doc.Venue != nil {
		t.Fatalf("default: source %q, QR %q, venue %v", s.doc.GuestSource, s.doc.WiFiQR, s.doc.Venue)
	}
	d := reload(&settings.Guests{Source: settings.SourceEthernet, VenueSSID: "Cafe;Wi-Fi", VenuePassphrase: "latte-1234"})
	if want := `WIFI:T:WPA;S:Cafe\;Wi-Fi;P:latte-1234;;`; d.WiFiQR != want || d.GuestSource != "ethernet" || d.Venue == nil || d.Venue.SSID != "Cafe;Wi-Fi" {
		t.Errorf("ethernet: QR %q (want %q), source %q, venue %+v", d.WiFiQR, want, d.GuestSource, d.Venue)
	}
	if got := GuestInterfaces(s.config().LANInterface, s.config().Guests); len(got) != 1 || got[0] != "eth0" {
		t.Errorf("ethernet: guest interfaces %v, want [eth0]", got)
	}
	// Both: the box's Wi-Fi runs and its QR stays; eth0 is open too.
	d = reload(&settings.Guests{Source: settings.SourceBoth, VenueSSID: "Cafe", VenuePassphrase: "latte-1234"})
	if d.WiFiQR != own || d.Venue != nil || d.GuestSource != "both" {
		t.Errorf("both: QR %q, venue %+v, source %q", d.WiFiQR, d.Venue, d.GuestSource)
	}
	if got := GuestInterfaces(s.config().LANInterface, s.config().Guests); len(got) != 1 {
		t.Errorf("both: guest interfaces %v, want [eth0]", got)
	}
	d = reload(&settings.Guests{Source: settings.SourceWiFi})
	if d.WiFiQR != own || d.Venue != nil || d.GuestSource != "wifi" {
		t.Errorf("back to wifi: QR %q, venue %+v, source %q", d.WiFiQR, d.Venue, d.GuestSource)
	}
	if got := GuestInterfaces(s.config().LANInterface, s.config().Guests); got != nil {
		t.Errorf("wifi: guest interfaces %v, want none", got)
	}
}
