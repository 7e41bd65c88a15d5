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
