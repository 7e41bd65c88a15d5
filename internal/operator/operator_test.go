package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// events records, in order, what the backend did to the hub, the web
// server and the hotspot.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.log, "|")
}

// hubStandIn records calls; the hub's own behaviour is tested in
// internal/hub and end to end in integration/web.
type hubStandIn struct {
	ev    *events
	rooms []admin.Room
}

func (h *hubStandIn) Rooms() []admin.Room               { return h.rooms }
func (h *hubStandIn) LockRoom(room string, locked bool) { h.ev.add("lock %s %v", room, locked) }
func (h *hubStandIn) EndRoom(room string) int           { h.ev.add("end %s", room); return 1 }
func (h *hubStandIn) Notice(text string)                { h.ev.add("notice") }
func (h *hubStandIn) SetCalls(room string, roomCap int) { h.ev.add("calls %s %d", room, roomCap) }
func (h *hubStandIn) Kick(id uint64, d time.Duration) (netip.Addr, bool) {
	h.ev.add("kick %d %v", id, d)
	return netip.MustParseAddr("10.42.0.23"), id == 7
}

// hotspotAPI serves the hotspot's status and control API as the contract
// in internal/status defines it.
func hotspotAPI(t *testing.T, ev *events, st status.Hotspot) *HotspotClient {
	c, _ := hotspotAPIWith(t, ev, st)
	return c
}

// hotspotAPIWith also returns a setter for the status it serves.
func hotspotAPIWith(t *testing.T, ev *events, st status.Hotspot) (*HotspotClient, func(status.Hotspot)) {
	var mu sync.Mutex
	set := func(s status.Hotspot) { mu.Lock(); st = s; mu.Unlock() }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("POST "+status.ReloadPath, func(w http.ResponseWriter, r *http.Request) {
		ev.add("reload")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+status.BanPath, func(w http.ResponseWriter, r *http.Request) {
		var b status.Ban
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev.add("ban %s %d", b.IP, b.Seconds)
		w.WriteHeader(http.StatusNoContent)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return &HotspotClient{Base: ts.URL, Client: ts.Client()}, set
}

// defaults are the hub's flags: calls and guests.
func defaults() settings.Settings {
	return settings.Settings{
		Calls:  &settings.Calls{DefaultRoom: "lobby", RoomCap: 8},
		Guests: &settings.Guests{Source: "wifi"},
	}
}

// running is what the hotspot reports it runs with.
func running() status.Hotspot {
	return status.Hotspot{State: "running", SSID: "Kibitz-7F3A", Passphrase: "abcdefgh2345", Security: "wpa2",
		Country: "DE", Channel: 6, Channels: []int{1, 6, 11}}
}

func newBackend(t *testing.T, hs *HotspotClient, ev *events, h *hubStandIn) *Backend {
	dir := t.TempDir()
	return New(Config{
		SettingsPath: settings.Path(dir), Defaults: defaults(), Hub: h, Calls: h, Hotspot: hs,
		Facts: Facts{PermDir: dir, ThermalFile: filepath.Join(dir, "no-sensor")}, Version: "v1",
		Start: time.Now().Add(-time.Hour), WiFiNoticeDelay: time.Millisecond,
	})
}

func TestSetCallsPersistsAndApplies(t *testing.T) {
	ev := &events{}
	h := &hubStandIn{ev: ev}
	b := newBackend(t, hotspotAPI(t, ev, status.Hotspot{}), ev, h)
	if err := b.SetCalls(context.Background(), settings.Calls{RoomCap: 4}); err != nil {
		t.Fatal(err)
	}
	if got := *b.Settings().Calls; got != (settings.Calls{DefaultRoom: "lobby", RoomCap: 4}) {
		t.Errorf("saved calls %+v", got)
	}
	if ev.String() != "calls lobby 4" {
		t.Errorf("events %q", ev)
	}
	var in *admin.InputError
	if err := b.SetCalls(context.Background(), settings.Calls{RoomCap: 40}); !errors.As(err, &in) {
		t.Errorf("room cap 40: %v, want an input error", err)
	}
}

// A Wi-Fi change warns the guests first, then reloads the hotspot; an
// illegal channel is refused before anything changes.
func TestSetWiFi(t *testing.T) {
	ev := &events{}
	h := &hubStandIn{ev: ev}
	hs, setStatus := hotspotAPIWith(t, ev, running())
	b := newBackend(t, hs, ev, h)
	st, err := b.State(context.Background())
	if err != nil || st.Settings.WiFi.SSID != "Kibitz-7F3A" || st.Settings.WiFi.Channel != 6 {
		t.Fatalf("before any change the page must show the running Wi-Fi: %+v, %v", st.Settings.WiFi, err)
	}
	w := settings.WiFi{SSID: "Cafe", Passphrase: "new-passphrase", Security: "wpa2", Country: "DE", Channel: 13}
	var in *admin.InputError
	if err := b.SetWiFi(context.Background(), w); !errors.As(err, &in) || !strings.Contains(in.Msg, "channel 13") {
		t.Fatalf("channel 13: %v, want an input error naming it", err)
	}
	if ev.String() != "" || b.Settings().WiFi != nil {
		t.Fatalf("a refused change still did something: %q %+v", ev, b.Settings().WiFi)
	}
	w.Channel = 11
	if err := b.SetWiFi(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if ev.String() != "notice|reload" {
		t.Errorf("events %q, want the notice before the reload", ev)
	}
	if got := b.Settings().WiFi; got == nil || *got != w {
		t.Errorf("saved %+v, want %+v", got, w)
	}
	if got := *b.Settings().Calls; got != *defaults().Calls {
		t.Errorf("a Wi-Fi change touched the calls section: %+v", got)
	}
	// The hotspot now runs the new network; only the channel changes next:
	// no notice, guests keep their passphrase.
	now := running()
	now.SSID, now.Passphrase = w.SSID, w.Passphrase
	setStatus(now)
	ev.log = nil
	w.Channel = 1
	if err := b.SetWiFi(context.Background(), w); err != nil || ev.String() != "reload" {
		t.Errorf("channel-only change: %v, events %q", err, ev)
	}
}

func TestSetWiFiWithoutAHotspotChangesNothing(t *testing.T) {
	ev := &events{}
	h := &hubStandIn{ev: ev}
	down := &HotspotClient{Base: "http://127.0.0.1:1", Client: http.DefaultClient}
	b := newBackend(t, down, ev, h)
	if err := b.SetWiFi(context.Background(), settings.WiFi{SSID: "x", Security: "open", Channel: 6}); err == nil {
		t.Fatal("SetWiFi without a hotspot succeeded")
	}
	if _, err := os.Stat(b.cfg.SettingsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the settings file was written: %v", err)
	}
	st, err := b.State(context.Background())
	if err != nil || st.Hotspot != "not reachable" || st.Box.Version != "v1" {
		t.Errorf("State without a hotspot: %+v, %v", st, err)
	}
	// A hub without rooms: the page gets empty lists, not null.
	if doc, _ := json.Marshal(st); !strings.Contains(string(doc), `"rooms":[]`) || !strings.Contains(string(doc), `"stations":[]`) {
		t.Errorf("State with no rooms and no hotspot encodes as %s", doc)
	}
}

func TestKickBansAtTheHotspot(t *testing.T) {
	ev := &events{}
	h := &hubStandIn{ev: ev}
	b := newBackend(t, hotspotAPI(t, ev, status.Hotspot{}), ev, h)
	if err := b.Kick(context.Background(), 7, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if ev.String() != "kick 7 10m0s|ban 10.42.0.23 600" {
		t.Errorf("events %q", ev)
	}
	var in *admin.InputError
	if err := b.Kick(context.Background(), 8, time.Minute); !errors.As(err, &in) {
		t.Errorf("kick of an unknown id: %v", err)
	}
}

func TestStateJoinsStationsLeasesAndNames(t *testing.T) {
	ev := &events{}
	h := &hubStandIn{ev: ev, rooms: []admin.Room{{Name: "lobby", Members: []admin.Member{{ID: 3, Name: "Ada", IP: "10.42.0.10"}}}}}
	hs := status.Hotspot{
		State: "running", Channels: []int{1, 6, 11}, SSID: "Kibitz-7F3A", Security: "wpa2", Passphrase: "abcdefgh2345",
		Channel: 6, Country: "DE", Hidden: true, APIsolation: true,
		Stations: []status.Station{{MAC: "02:00:00:00:01:00", SignalDBm: -40, ConnectedSeconds: 90}, {MAC: "02:00:00:00:02:00", SignalDBm: -70}},
		Leases:   []status.Lease{{MAC: "02:00:00:00:01:00", IP: "10.42.0.10"}},
	}
	b := newBackend(t, hotspotAPI(t, ev, hs), ev, h)
	if err := os.WriteFile(b.cfg.Facts.ThermalFile, []byte("48312\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := b.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Stations) != 2 || st.Stations[0].IP != "10.42.0.10" || st.Stations[0].Name != "Ada" || st.Stations[1].IP != "" {
		t.Errorf("stations %+v", st.Stations)
	}
	if st.Box.TempC == nil || *st.Box.TempC != 48.312 {
		t.Errorf("temperature %v, want 48.312", st.Box.TempC)
	}
	if st.Box.PermFreeBytes == 0 || st.Box.UptimeS < 3599 || len(st.Channels) != 3 || st.Hotspot != "running" {
		t.Errorf("box %+v channels %v hotspot %q", st.Box, st.Channels, st.Hotspot)
	}
	// Never set by the operator: the page shows what the hotspot runs, so
	// saving one field keeps the others (hidden, isolation included).
	want := settings.WiFi{SSID: "Kibitz-7F3A", Passphrase: "abcdefgh2345", Security: "wpa2", Hidden: true, Country: "DE", Channel: 6, APIsolation: true}
	if st.Settings.WiFi != want {
		t.Errorf("Wi-Fi settings %+v, want %+v", st.Settings.WiFi, want)
	}
}

func TestRebootAndRestartOnALaptop(t *testing.T) {
	ev := &events{}
	b := newBackend(t, hotspotAPI(t, ev, status.Hotspot{}), ev, &hubStandIn{ev: ev})
	var in *admin.InputError
	if err := b.Reboot(context.Background()); !errors.As(err, &in) {
		t.Errorf("Reboot without a box: %v", err)
	}
	if err := b.Restart(context.Background(), "hub"); !errors.As(err, &in) {
		t.Errorf("Restart without a box: %v", err)
	}
}

func TestClockSet(t *testing.T) {
	build := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := Facts{BuildTime: build}
	if f.ClockSet(time.Date(1970, 1, 1, 0, 0, 10, 0, time.UTC)) {
		t.Error("1970 counts as a set clock")
	}
	if !f.ClockSet(build.Add(time.Hour)) {
		t.Error("a time after the build does not count as set")
	}
}
