package settings

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func defaults() Settings {
	return Settings{
		WiFi:   &WiFi{SSID: "Kibitz-7F3A", Passphrase: "abcdefgh2345", Security: SecurityWPA2, Country: "DE", Channel: 6},
		Calls:  &Calls{DefaultRoom: "lobby", RoomCap: 8},
		Guests: &Guests{Source: SourceWiFi},
	}
}

func TestMissingFileHasNoSections(t *testing.T) {
	var logs bytes.Buffer
	got := Load(filepath.Join(t.TempDir(), FileName), slog.New(slog.NewTextHandler(&logs, nil)))
	if got != (Settings{}) {
		t.Errorf("Load = %+v, want no sections", got)
	}
	if !reflect.DeepEqual(got.Over(defaults()), defaults()) {
		t.Errorf("Over(defaults) of nothing is not the defaults")
	}
	if logs.Len() != 0 {
		t.Errorf("a missing file is normal, but Load logged %q", logs.String())
	}
}

// A section in the file wins over the flags; a section it lacks keeps them.
func TestFileSectionsOverride(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p, []byte(`{"calls":{"default_room":"stage","room_cap":4}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got := Load(p, slog.Default()).Over(defaults())
	want := defaults()
	want.Calls = &Calls{DefaultRoom: "stage", RoomCap: 4}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v\nwant %+v", got, want)
	}
}

func TestSaveThenLoadRoundTrips(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", FileName)
	s := defaults()
	s.WiFi.Hidden = true
	s.Guests = &Guests{Source: SourceBoth, VenueSSID: "Cafe Guest", VenuePassphrase: "venue-pass-1"}
	if err := Save(p, s); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode %v, want 0600 (it holds the passphrase)", fi.Mode().Perm())
	}
	if got := Load(p, slog.Default()); !reflect.DeepEqual(got, s) {
		t.Errorf("Load after Save = %+v, want %+v", got, s)
	}
}

// A corrupt or invalid file is ignored with a log line, and kept aside as
// evidence.
func TestCorruptFileFallsBack(t *testing.T) {
	for name, body := range map[string]string{
		"truncated": `{"wifi":{"ssid":"Kib`,
		"invalid":   `{"calls":{"room_cap":500}}`,
		"not json":  "\x00\x01garbage",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if got := Load(p, slog.New(slog.NewTextHandler(&logs, nil))); got != (Settings{}) {
				t.Errorf("Load = %+v, want nothing from a corrupt file", got)
			}
			if !strings.Contains(logs.String(), "settings file unusable") {
				t.Errorf("no log line for the corrupt file: %q", logs.String())
			}
			if aside, _ := filepath.Glob(p + ".corrupt-*"); len(aside) != 1 {
				t.Errorf("corrupt file not kept aside: %v", aside)
			}
		})
	}
}

func TestSaveRefusesInvalidAndKeepsTheOldFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	if err := Save(p, defaults()); err != nil {
		t.Fatal(err)
	}
	bad := defaults()
	bad.WiFi = &WiFi{SSID: "x", Passphrase: "short"}
	if err := Save(p, bad); err == nil || !strings.Contains(err.Error(), "8 to 63") {
		t.Fatalf("Save(short passphrase) = %v, want a passphrase error", err)
	}
	if got := Load(p, slog.Default()); !reflect.DeepEqual(got, defaults()) {
		t.Errorf("the old file changed after a refused save: %+v", got)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.WiFi.SSID = strings.Repeat("x", 33) }, "wifi.ssid"},
		{func(s *Settings) { s.WiFi.SSID = "a\nb" }, "wifi.ssid"},
		{func(s *Settings) { s.WiFi.Security = "wep" }, "wifi.security"},
		{func(s *Settings) { s.WiFi.Passphrase = "pässwörter" }, "printable ASCII"},
		{func(s *Settings) { s.WiFi.Country = "de" }, "wifi.country"},
		{func(s *Settings) { s.WiFi.Channel = 15 }, "wifi.channel"},
		{func(s *Settings) { s.Calls.DefaultRoom = strings.Repeat("r", 65) }, "calls.default_room"},
		{func(s *Settings) { s.Calls.RoomCap = 1 }, "calls.room_cap"},
		{func(s *Settings) { s.Guests.Source = "lte" }, "guests.source"},
		{func(s *Settings) { s.Guests.VenuePassphrase = "1234567" }, "guests.venue_passphrase"},
	} {
		s := defaults()
		tc.edit(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error naming %s", err, tc.want)
		}
	}
	if err := defaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}
