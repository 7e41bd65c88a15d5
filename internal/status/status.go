// Package status defines the JSON documents that the hub and the hotspot
// serve on loopback and that the display reads, and the Wi-Fi QR payload
// they share. It is the only coupling between the three processes: each
// daemon maps its parts' own stats to these types in one place
// (internal/hubd/status.go, internal/hotspot's status document).
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
)

// Default loopback addresses of the status endpoints.
const (
	HubAddr     = "127.0.0.1:8079"
	HotspotAddr = "127.0.0.1:8078"
)

// Hub is the document cmd/hub serves at /status.
type Hub struct {
	Version       string  `json:"version"`
	UptimeSeconds float64 `json:"uptime_s"`

	// Blob is the g2 blob of the per-device identity.
	Blob string `json:"blob"`
	// AppURL opens our own call app in the default room, e.g.
	// https://10.42.0.1/#lobby. The call QR carries it.
	AppURL string `json:"app_url"`
	// KibitzURL is the same room on kibitz.chat, for guests who have it.
	KibitzURL    string `json:"kibitz_url"`
	DefaultRoom  string `json:"default_room"`
	Discoverable bool   `json:"discoverable"`

	// OperatorCode unlocks the operator page; only the box's screen shows
	// it, and this document is served on loopback only. OperatorLockout
	// says someone just used up their tries.
	OperatorCode    string `json:"operator_code,omitempty"`
	OperatorLockout bool   `json:"operator_lockout,omitempty"`

	Sessions int `json:"sessions"`
	// Rooms are the biggest rooms (most members first), at most 32, so
	// the document stays small whatever names guests choose; OtherRooms
	// counts the rooms left out.
	Rooms      []Room `json:"rooms"`
	OtherRooms int    `json:"other_rooms"`
	// InCall counts sessions that are in a named or default room.
	InCall int `json:"in_call"`

	TURN TURN `json:"turn"`
	// Air is the relay's air budget and who uses it; nil without TURN.
	Air *Air `json:"air,omitempty"`
	// Web is nil when the hub runs without its web server.
	Web *Web `json:"web,omitempty"`

	// Drops counts frames or packets the hub discarded, by reason.
	Drops map[string]uint64 `json:"drops"`
}

// Room is one room with at least one member.
type Room struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

// Air is how the guests share the radio (docs/air.md).
type Air struct {
	// BudgetKbps is the relayed media rate the guests share; 0: no limit.
	BudgetKbps int     `json:"budget_kbps"`
	TotalKbps  float64 `json:"total_kbps"`
	// Guests are the busiest guests, at most 32, busiest first.
	Guests []AirGuest `json:"guests"`
	// VideoFull says a newcomer to the default room would join with
	// audio only: video would no longer get its floor.
	VideoFull bool `json:"video_full"`
}

// AirGuest is one guest's relayed rate and the share it is held to.
type AirGuest struct {
	IP        string  `json:"ip"`
	Kbps      float64 `json:"kbps"`
	ShareKbps float64 `json:"share_kbps"`
	Dropped   uint64  `json:"dropped"`
}

// TURN summarises the relay.
type TURN struct {
	Port            int     `json:"port"`
	Allocations     int     `json:"allocations"`
	RelayedBytes    uint64  `json:"relayed_bytes"`
	BytesPerSecond  float64 `json:"bytes_per_second"`
	RefusedRequests uint64  `json:"refused_requests"`
}

// Web summarises the call app's HTTPS server and captive portal.
type Web struct {
	// CaptiveClients is the number of clients released from the portal.
	CaptiveClients int    `json:"captive_clients"`
	AppLoads       uint64 `json:"app_loads"`
	Joins          uint64 `json:"joins"`
	ProbeSuccesses uint64 `json:"probe_successes"`
	Splashes       uint64 `json:"splashes"`
	Redirects      uint64 `json:"redirects"`
}

// Hotspot states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateNoWiFi   = "no-wifi"
	StateError    = "error"
)

// Venue is the venue's Wi-Fi in Ethernet mode (the box does not run it).
type Venue struct {
	SSID       string `json:"ssid"`
	Passphrase string `json:"passphrase,omitempty"`
}

// Hotspot is the document cmd/hotspot serves at /status.
type Hotspot struct {
	Version string `json:"version"`
	State   string `json:"state"`
	Error   string `json:"error,omitempty"`

	Interface string `json:"interface,omitempty"`
	Address   string `json:"address,omitempty"`
	SSID      string `json:"ssid"`
	// Security is "open" or "wpa2".
	Security   string `json:"security"`
	Passphrase string `json:"passphrase,omitempty"`
	// SecurityFallback explains why the AP runs open although WPA2 was
	// asked for (for example a chip with broken encrypted AP mode).
	SecurityFallback string `json:"security_fallback,omitempty"`
	Channel          int    `json:"channel"`
	Country          string `json:"country"`
	// AirBudgetKbps is the relayed media rate this band and width carry
	// (internal/air), or the --air-budget-kbps override; 0: unknown.
	AirBudgetKbps int `json:"air_budget_kbps,omitempty"`
	// Channels are the channels the radio may use in Country, for the
	// operator page.
	Channels []int `json:"channels,omitempty"`
	// Hidden is set when the SSID is not broadcast.
	Hidden bool `json:"hidden,omitempty"`
	// APIsolation is set when guests cannot reach each other over the AP.
	APIsolation bool `json:"ap_isolation"`
	// WiFiQR is the WIFI: payload for the join QR code (see WiFiQR): the
	// box's network, or the venue's (Venue) in Ethernet mode.
	WiFiQR string `json:"wifi_qr"`
	// GuestSource is where guests come from: "wifi" (the default),
	// "ethernet" or "both" (settings.Guests.Source).
	GuestSource string `json:"guest_source,omitempty"`
	// Venue is the venue's own Wi-Fi, which WiFiQR joins, when guests
	// come over Ethernet only and the operator gave one; the screen shows
	// its name and passphrase instead of the box's.
	Venue       *Venue `json:"venue,omitempty"`
	MaxStations int    `json:"max_stations"`
	// AdminGuard reports whether guests are kept off gokrazy's admin UI.
	AdminGuard bool `json:"admin_guard"`
	// Guard is the packet filter as read back from the kernel; nil when
	// the hotspot runs without it (labs only).
	Guard *Guard `json:"guard,omitempty"`

	Stations     []Station     `json:"stations"`
	Leases       []Lease       `json:"leases"`
	AuthFailures []AuthFailure `json:"auth_failures,omitempty"`
}

// Guard is the hotspot's packet filter as the kernel has it. The no-router
// part (forwarding off, forward drop) is set when the hotspot starts,
// before and whether or not there is an AP; the AP does not start without
// it.
type Guard struct {
	// ForwardingOff: ip_forward (and IPv6 forwarding) read back as 0.
	ForwardingOff bool `json:"forwarding_off"`
	// ForwardDrop: an nftables forward chain drops every packet, so
	// nothing passes between the Wi-Fi and the Ethernet.
	ForwardDrop bool `json:"forward_drop"`
	// ForwardDropped counts the packets that rule dropped.
	ForwardDropped uint64 `json:"forward_dropped"`
	// GuestFilter: the AP's source guard and service filter
	// (internal/guestguard) are installed; false while there is no AP.
	GuestFilter bool `json:"guest_filter"`
	// Error says what is not in force, or could not be read.
	Error string `json:"error,omitempty"`
}

// The hotspot's control API, next to its /status on loopback. Both are
// JSON POSTs; the hub's operator page is the caller.
const (
	// ReloadPath: re-read the settings file and restart the AP if the
	// Wi-Fi settings changed. Body: {}.
	ReloadPath = "/control/reload"
	// BanPath: deauthenticate the station holding a lease and refuse its
	// MAC for a while. Body: Ban.
	BanPath = "/control/ban"
)

// Ban is the body of BanPath.
type Ban struct {
	IP      string `json:"ip"`
	Seconds int    `json:"seconds"`
}

// Station is an associated Wi-Fi client.
type Station struct {
	MAC              string  `json:"mac"`
	SignalDBm        int     `json:"signal_dbm"`
	ConnectedSeconds float64 `json:"connected_s"`
	Authorized       bool    `json:"authorized"`
}

// Lease is a DHCP lease.
type Lease struct {
	MAC              string  `json:"mac"`
	IP               string  `json:"ip"`
	Hostname         string  `json:"hostname,omitempty"`
	ExpiresInSeconds float64 `json:"expires_in_s"`
}

// AuthFailure records a station that failed to authenticate.
type AuthFailure struct {
	MAC    string    `json:"mac"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// MaxDocument bounds what Fetch reads; status documents are small.
const MaxDocument = 1 << 20

// ErrPartial is wrapped by Fetch's error when only the document's leading
// fields arrived: the body was larger than MaxDocument, or the server
// stalled or closed mid-body. Those fields are filled in anyway. The
// documents put what a screen needs most (Hub.AppURL) before the lists
// that can grow (Hub.Rooms), so the call QR survives a huge room list.
var ErrPartial = errors.New("partial status document")

// Fetch GETs url and decodes the JSON document into v, reading at most
// MaxDocument bytes and giving up when ctx or client's timeout ends.
func Fetch(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("status request %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch status %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch status %s: %s", url, resp.Status)
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxDocument+1))
	if readErr == nil && len(body) <= MaxDocument {
		if err := json.Unmarshal(body, v); err != nil {
			return fmt.Errorf("decode status %s: %w", url, err)
		}
		return nil
	}
	why := readErr
	if why == nil {
		why = fmt.Errorf("larger than %d bytes", MaxDocument)
	}
	n, err := decodeLeading(body[:min(len(body), MaxDocument)], v)
	if err != nil || n == 0 {
		return fmt.Errorf("fetch status %s: %w", url, why)
	}
	return fmt.Errorf("fetch status %s: %w (%d leading fields kept): %w", url, ErrPartial, n, why)
}

// decodeLeading decodes the top-level fields of the JSON object at the
// start of data that arrived complete, and returns how many there were.
func decodeLeading(data []byte, v any) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, fmt.Errorf("not a JSON object")
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		fields[key] = raw
	}
	if len(fields) == 0 {
		return 0, nil
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return 0, err
	}
	return len(fields), json.Unmarshal(b, v)
}

// Handler serves doc() as JSON at /status and metrics at /metrics in the
// Prometheus text format.
func Handler(doc func() any, writeMetrics func(*metrics.Writer)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(doc())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		mw := metrics.NewWriter(w)
		writeMetrics(mw)
		mw.Flush()
	})
	return mux
}

// Serve runs Handler on addr (a loopback address) until ctx ends.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status listener %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status server %s: %w", addr, err)
	}
	return nil
}
