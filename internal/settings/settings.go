// Package settings is the box's operator settings: one JSON file in the
// state directory (/perm/kibitzbox/settings.json on the box) that all three
// daemons read and the operator page changes. The daemons' flags (from
// config.json) are the defaults. The file has up to three sections (Wi-Fi,
// calls, guests), each written whole by the operator page: a section in
// the file wins over the flags, a section it lacks keeps the flags. The
// file survives OTA updates because it lives on /perm.
package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
)

// FileName is the settings file's name in the state directory.
const FileName = "settings.json"

// Security modes of the box's Wi-Fi.
const (
	SecurityWPA2 = "wpa2"
	SecurityOpen = "open"
)

// Where guests come from.
const (
	// SourceWiFi: the box runs its own Wi-Fi and guest services answer
	// only there (and on loopback).
	SourceWiFi = "wifi"
	// SourceEthernet: guests come over the venue's network on Ethernet;
	// the box's own Wi-Fi is off and the Wi-Fi QR shows the venue's network.
	SourceEthernet = "ethernet"
	// SourceBoth: the box's Wi-Fi and the venue's network.
	SourceBoth = "both"
)

// Room cap bounds: a call needs two people; a mesh call beyond 16 video
// participants does not fit any phone's uplink or the box's air.
const (
	MinRoomCap = 2
	MaxRoomCap = 16
)

// WiFi is the box's own access point.
type WiFi struct {
	SSID       string `json:"ssid"`
	Passphrase string `json:"passphrase"`
	Security   string `json:"security"`
	Hidden     bool   `json:"hidden"`
	// Country is the ISO 3166 alpha-2 regulatory domain ("DE").
	Country string `json:"country"`
	// Channel is a 2.4 GHz channel; the hotspot checks it against the
	// radio's legal list for Country.
	Channel     int  `json:"channel"`
	APIsolation bool `json:"ap_isolation"`
}

// Calls are the call app's defaults.
type Calls struct {
	DefaultRoom string `json:"default_room"`
	// RoomCap is the number of video participants per room.
	RoomCap int `json:"room_cap"`
}

// Guests says where guests come from, and for Ethernet mode the venue's
// own Wi-Fi that the screen's Wi-Fi QR shows (the box does not run it).
type Guests struct {
	Source          string `json:"source"`
	VenueSSID       string `json:"venue_ssid,omitempty"`
	VenuePassphrase string `json:"venue_passphrase,omitempty"`
}

// Settings is the whole file; a nil section was never set by the operator.
type Settings struct {
	WiFi   *WiFi   `json:"wifi,omitempty"`
	Calls  *Calls  `json:"calls,omitempty"`
	Guests *Guests `json:"guests,omitempty"`
}

// Over returns s with each section it lacks taken from defaults.
func (s Settings) Over(defaults Settings) Settings {
	if s.WiFi == nil {
		s.WiFi = defaults.WiFi
	}
	if s.Calls == nil {
		s.Calls = defaults.Calls
	}
	if s.Guests == nil {
		s.Guests = defaults.Guests
	}
	return s
}

// Path is the settings file in stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// Load reads the settings file, with no defaults applied (see Over). A
// missing file gives no sections. A corrupt or invalid file is moved
// aside, logged, and ignored: a bad file must never keep the box from
// starting.
func Load(path string, log *slog.Logger) Settings {
	var s Settings
	err := statefile.ReadJSON(path, &s, func() error { return s.Validate() })
	switch {
	case err == nil:
		return s
	case errors.Is(err, statefile.ErrNotExist):
	default:
		log.Warn("settings file unusable, using the defaults", "path", path, "err", err)
	}
	return Settings{}
}

// Save validates s and writes it atomically. The file holds the Wi-Fi
// passphrase, so only its owner may read it.
func Save(path string, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return statefile.WriteJSON(path, s, 0o600)
}

// Validate reports the first setting that is out of range, naming it.
// Empty Wi-Fi fields are allowed: the hotspot generates an SSID and a
// passphrase on first start.
func (s Settings) Validate() error {
	if s.WiFi != nil {
		if err := s.WiFi.Validate(); err != nil {
			return err
		}
	}
	if s.Calls != nil {
		if err := s.Calls.Validate(); err != nil {
			return err
		}
	}
	if s.Guests != nil {
		return s.Guests.Validate()
	}
	return nil
}

// Validate checks the Wi-Fi section.
func (w WiFi) Validate() error {
	if w.SSID != "" && (len(w.SSID) > 32 || !utf8.ValidString(w.SSID) || hasControl(w.SSID)) {
		return fmt.Errorf("wifi.ssid %q: 1 to 32 bytes of printable UTF-8", w.SSID)
	}
	switch w.Security {
	case "", SecurityWPA2, SecurityOpen:
	default:
		return fmt.Errorf("wifi.security %q: %q or %q", w.Security, SecurityWPA2, SecurityOpen)
	}
	if w.Passphrase != "" {
		if err := CheckPassphrase(w.Passphrase); err != nil {
			return err
		}
	}
	if w.Country != "" && !isCountry(w.Country) {
		return fmt.Errorf("wifi.country %q: two capital letters (ISO 3166), e.g. DE", w.Country)
	}
	if w.Channel != 0 && (w.Channel < 1 || w.Channel > 14) {
		return fmt.Errorf("wifi.channel %d: a 2.4 GHz channel from 1 to 14", w.Channel)
	}
	return nil
}

// Validate checks the calls section.
func (c Calls) Validate() error {
	if c.DefaultRoom != "" && (len(c.DefaultRoom) > 64 || hasControl(c.DefaultRoom) || !utf8.ValidString(c.DefaultRoom)) {
		return fmt.Errorf("calls.default_room %q: up to 64 bytes of printable UTF-8", c.DefaultRoom)
	}
	if c.RoomCap != 0 && (c.RoomCap < MinRoomCap || c.RoomCap > MaxRoomCap) {
		return fmt.Errorf("calls.room_cap %d: from %d to %d", c.RoomCap, MinRoomCap, MaxRoomCap)
	}
	return nil
}

// Validate checks the guests section.
func (g Guests) Validate() error {
	switch g.Source {
	case "", SourceWiFi, SourceEthernet, SourceBoth:
	default:
		return fmt.Errorf("guests.source %q: %q, %q or %q", g.Source, SourceWiFi, SourceEthernet, SourceBoth)
	}
	if len(g.VenueSSID) > 32 || hasControl(g.VenueSSID) {
		return fmt.Errorf("guests.venue_ssid %q: up to 32 bytes of printable UTF-8", g.VenueSSID)
	}
	if g.VenuePassphrase != "" {
		if err := CheckPassphrase(g.VenuePassphrase); err != nil {
			return fmt.Errorf("guests.venue_passphrase: %w", err)
		}
	}
	return nil
}

// CheckPassphrase checks a WPA2 passphrase: 8 to 63 printable ASCII
// characters (IEEE 802.11 Annex J).
func CheckPassphrase(p string) error {
	if len(p) < 8 || len(p) > 63 {
		return fmt.Errorf("wifi passphrase: 8 to 63 characters, not %d", len(p))
	}
	for _, r := range p {
		if r < 0x20 || r > 0x7e {
			return errors.New("wifi passphrase: printable ASCII only")
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
