package hotspot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/air"
	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// The operator page (in the hub) changes the Wi-Fi through the settings
// file and this loopback control API next to /status: POST
// status.ReloadPath re-reads the file and restarts the AP when the Wi-Fi
// changed; POST status.BanPath removes a kicked guest's station and keeps
// it out for a while.

// errRestart ends a bring-up so that it starts over with new settings.
var errRestart = errors.New("settings changed")

// maxBan bounds a ban, like the operator page does.
const maxBan = 24 * time.Hour

// effective is the flags with the settings file's Wi-Fi section over them.
func (s *service) effective() Config {
	c := s.flags
	file := settings.Load(settings.Path(c.StateDir), s.log)
	if file.Guests != nil {
		c.Guests = *file.Guests
	}
	w := file.WiFi
	if w == nil {
		return c
	}
	if w.SSID != "" {
		c.SSID = w.SSID
	}
	if w.Passphrase != "" {
		c.Passphrase = w.Passphrase
	}
	if w.Security != "" {
		c.Security = w.Security
	}
	if w.Country != "" {
		c.Country = w.Country
	}
	if w.Channel != 0 {
		c.Channel = w.Channel
	}
	c.Hidden, c.APIsolate = w.Hidden, w.APIsolation
	if err := c.setDefaults(); err != nil {
		s.log.Warn("settings file's Wi-Fi section unusable, using the flags", "err", err)
		c = s.flags
		if file.Guests != nil {
			c.Guests = *file.Guests
		}
		return c
	}
	return c
}

// config is the configuration in effect.
func (s *service) config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// handler serves /status, /metrics and the control API.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", status.Handler(s.document, s.writeMetrics))
	mux.HandleFunc("POST "+status.ReloadPath, s.reload)
	mux.HandleFunc("POST "+status.BanPath, s.ban)
	return mux
}

// reload applies the settings file. The AP restarts only if something it
// runs with changed.
func (s *service) reload(w http.ResponseWriter, r *http.Request) {
	next := s.effective()
	s.mu.Lock()
	prev := s.cfg
	changed := !sameWiFi(prev, next)
	s.cfg = next
	guard := s.guard
	guestsChanged := prev.Guests != next.Guests
	if guestsChanged {
		s.setGuestsLocked(next)
	}
	s.mu.Unlock()
	if guestsChanged {
		s.log.Info("guest source changed", "source", next.Guests.Source, "venue_ssid", next.Guests.VenueSSID, "guest_services_also_on", guestIfaces(next))
		if guard != nil && !changed {
			if err := guard.SetGuestIfaces(guestIfaces(next)); err != nil {
				// Fail closed: restart the bring-up, which installs the
				// guard afresh or keeps the AP off.
				s.log.Error("guest interfaces not updated; restarting the access point", "err", err)
				changed = true
			}
		}
	}
	if changed {
		s.log.Info("Wi-Fi settings changed; restarting the access point", "ssid", next.SSID, "security", next.Security,
			"channel", next.Channel, "country", next.Country, "hidden", next.Hidden)
		select {
		case s.restart <- struct{}{}:
		default: // a restart is already pending
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// ethernetMode reports whether guests come over the venue's LAN.
func ethernetMode(g settings.Guests) bool {
	return g.Source == settings.SourceEthernet || g.Source == settings.SourceBoth
}

// guestIfaces are the interfaces besides the AP where the guest services
// answer for c (see GuestInterfaces).
func guestIfaces(c Config) []string { return GuestInterfaces(c.LANInterface, c.Guests) }

// GuestInterfaces are the interfaces besides the AP and loopback where the
// guest services answer (guestguard.Config.GuestIfaces): lan in Ethernet
// mode (source ethernet or both), none in Wi-Fi-only mode.
func GuestInterfaces(lan string, g settings.Guests) []string {
	if ethernetMode(g) && lan != "" {
		return []string{lan}
	}
	return nil
}

// setGuestsLocked makes the status show what guests need for c.Guests: in
// Ethernet-only mode the Wi-Fi QR joins the venue's network (which the
// box does not run), otherwise the box's own. s.mu is held.
func (s *service) setGuestsLocked(c Config) {
	s.doc.GuestSource = c.Guests.Source
	if s.doc.GuestSource == "" {
		s.doc.GuestSource = settings.SourceWiFi
	}
	s.doc.Venue = nil
	s.doc.WiFiQR = s.ownWiFiQR
	if c.Guests.Source == settings.SourceEthernet && c.Guests.VenueSSID != "" {
		security := status.SecurityWPA2
		if c.Guests.VenuePassphrase == "" {
			security = status.SecurityOpen
		}
		s.doc.Venue = &status.Venue{SSID: c.Guests.VenueSSID, Passphrase: c.Guests.VenuePassphrase}
		s.doc.WiFiQR = status.WiFiQR(security, c.Guests.VenueSSID, c.Guests.VenuePassphrase, false)
	}
}

func sameWiFi(a, b Config) bool {
	return a.SSID == b.SSID && a.Passphrase == b.Passphrase && a.Security == b.Security && a.Country == b.Country &&
		a.Channel == b.Channel && a.Hidden == b.Hidden && a.APIsolate == b.APIsolate
}

// ban removes the station holding the lease of an IP and refuses it.
func (s *service) ban(w http.ResponseWriter, r *http.Request) {
	var req status.Ban
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
		http.Error(w, "ban: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := time.Duration(req.Seconds) * time.Second
	if d <= 0 || d > maxBan {
		http.Error(w, fmt.Sprintf("ban: seconds %d out of range", req.Seconds), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	radio, dhcp := s.ap, s.dhcp
	s.mu.Unlock()
	if radio == nil || dhcp == nil {
		http.Error(w, "ban: the access point is not running", http.StatusServiceUnavailable)
		return
	}
	i := slices.IndexFunc(dhcp.Leases(), func(l status.Lease) bool { return l.IP == req.IP })
	if i < 0 {
		http.Error(w, "ban: no lease for "+req.IP, http.StatusNotFound)
		return
	}
	mac, err := net.ParseMAC(dhcp.Leases()[i].MAC)
	if err != nil {
		http.Error(w, "ban: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if err := radio.Ban(mac, time.Now().Add(d)); err != nil {
		s.log.Warn("ban: deauthentication failed", "mac", mac.String(), "err", err)
	}
	s.log.Info("station banned by the operator", "mac", mac.String(), "ip", req.IP, "for", d.String())
	w.WriteHeader(http.StatusNoContent)
}

// airBudget is the media budget this radio publishes: the flag's, or the
// default for the band and width the AP runs (20 MHz on 2.4 GHz, as
// ap.Start configures it).
func airBudget(c Config) int {
	if c.AirBudgetKbps > 0 {
		return c.AirBudgetKbps
	}
	band := "2.4GHz"
	if c.Channel > 14 {
		band = "5GHz"
	}
	return air.DefaultBudgetKbps(band, 20)
}
