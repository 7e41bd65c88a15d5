// Package operator carries out what the operator page asks (it implements
// admin.Backend in the hub daemon): it writes the settings file, which is
// the one place all three daemons read their settings from, changes the
// hub and the web server live, and asks the hotspot over its loopback
// control API to reload the Wi-Fi or keep a kicked guest out. It never
// imports the hotspot: the daemons talk over loopback HTTP only.
package operator

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/settings"
)

// Hub is what the operator changes in the running call hub.
type Hub interface {
	// Rooms lists the rooms with their sessions.
	Rooms() []admin.Room
	// LockRoom keeps new sessions out of room (or lets them in again).
	LockRoom(room string, locked bool)
	// EndRoom closes every session in room and keeps it locked a while;
	// it returns how many sessions it closed.
	EndRoom(room string) int
	// Kick closes the session id and refuses its address for banFor; it
	// returns the guest's address, or false if there is no such session.
	Kick(id uint64, banFor time.Duration) (netip.Addr, bool)
	// Notice shows text as a banner in every connected app.
	Notice(text string)
}

// Calls is the web server's live call settings.
type Calls interface {
	SetCalls(defaultRoom string, roomCap int)
}

// Config wires a Backend.
type Config struct {
	// SettingsPath is the settings file; Defaults are the hub's flags
	// (calls and guests; the Wi-Fi defaults are the hotspot's business).
	SettingsPath string
	Defaults     settings.Settings
	Hub          Hub
	Calls        Calls
	Hotspot      *HotspotClient
	Facts        Facts
	Version      string
	Start        time.Time
	// WiFiNoticeDelay is how long guests see the "Wi-Fi changes" banner
	// before the hotspot switches (default 5 s).
	WiFiNoticeDelay time.Duration
	// Reboot and Restart carry out those requests (they differ between
	// the box and a laptop); nil refuses them.
	Reboot  func() error
	Restart func(service string) error
	Logger  *slog.Logger
	Now     func() time.Time
}

// Backend implements admin.Backend.
type Backend struct {
	cfg Config
	mu  sync.Mutex // serializes settings changes (read, change, write)
}

var _ admin.Backend = (*Backend)(nil)

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WiFiNoticeDelay == 0 {
		cfg.WiFiNoticeDelay = 5 * time.Second
	}
	return &Backend{cfg: cfg}
}

// Settings are the hub's settings in force: the file's sections over the
// hub's flags.
func (b *Backend) Settings() settings.Settings {
	return settings.Load(b.cfg.SettingsPath, b.cfg.Logger).Over(b.cfg.Defaults)
}

// update sets sections of the settings file under the lock; the file's
// other sections stay as they are.
func (b *Backend) update(change func(*settings.Settings)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := settings.Load(b.cfg.SettingsPath, b.cfg.Logger)
	change(&s)
	if err := s.Validate(); err != nil {
		return &admin.InputError{Msg: err.Error()}
	}
	if err := settings.Save(b.cfg.SettingsPath, s); err != nil {
		return fmt.Errorf("saving the settings: %w", err)
	}
	return nil
}

// State gathers the page's state; a missing hotspot (a laptop) leaves the
// Wi-Fi parts empty rather than failing the page.
func (b *Backend) State(ctx context.Context) (admin.State, error) {
	cur := b.Settings()
	st := admin.State{Rooms: b.cfg.Hub.Rooms(), Stations: []admin.Station{}, Channels: []int{}}
	if st.Rooms == nil {
		// The page reads rooms.length: no rooms is [], never null.
		st.Rooms = []admin.Room{}
	}
	if cur.Calls != nil {
		st.Settings.Calls = *cur.Calls
	}
	if cur.Guests != nil {
		st.Settings.Guests = *cur.Guests
	}
	if cur.WiFi != nil {
		st.Settings.WiFi = *cur.WiFi
	}
	now := b.cfg.Now()
	st.Box = admin.Box{
		Version:  b.cfg.Version,
		UptimeS:  now.Sub(b.cfg.Start).Seconds(),
		TempC:    b.cfg.Facts.TempC(),
		ClockSet: b.cfg.Facts.ClockSet(now),
	}
	if free, err := b.cfg.Facts.FreeBytes(); err == nil {
		st.Box.PermFreeBytes = free
	}
	hs, err := b.cfg.Hotspot.Status(ctx)
	if err != nil {
		st.Hotspot = "not reachable"
		return st, nil
	}
	st.Hotspot = hs.State
	st.Channels = append(st.Channels, hs.Channels...)
	if cur.WiFi == nil {
		// Never set by the operator: show what the hotspot runs with.
		st.Settings.WiFi = settings.WiFi{SSID: hs.SSID, Passphrase: hs.Passphrase, Security: hs.Security,
			Hidden: hs.Hidden, Country: hs.Country, Channel: hs.Channel, APIsolation: hs.APIsolation}
	}
	ips := map[string]string{}
	for _, l := range hs.Leases {
		ips[l.MAC] = l.IP
	}
	names := map[string]string{}
	for _, r := range st.Rooms {
		for _, m := range r.Members {
			if m.Name != "" {
				names[m.IP] = m.Name
			}
		}
	}
	for _, s := range hs.Stations {
		ip := ips[s.MAC]
		st.Stations = append(st.Stations, admin.Station{
			MAC: s.MAC, IP: ip, SignalDBm: s.SignalDBm, Name: names[ip],
			Since: now.Add(-time.Duration(s.ConnectedSeconds * float64(time.Second))).Truncate(time.Second),
		})
	}
	return st, nil
}

// SetCalls saves and applies the call settings; apps get them on their
// next /api/join.
func (b *Backend) SetCalls(_ context.Context, c settings.Calls) error {
	cur := settings.Calls{}
	if s := b.Settings(); s.Calls != nil {
		cur = *s.Calls
	}
	if c.DefaultRoom != "" {
		cur.DefaultRoom = c.DefaultRoom
	}
	if c.RoomCap != 0 {
		cur.RoomCap = c.RoomCap
	}
	if err := b.update(func(s *settings.Settings) { s.Calls = &cur }); err != nil {
		return err
	}
	b.cfg.Calls.SetCalls(cur.DefaultRoom, cur.RoomCap)
	return nil
}

// SetWiFi checks the channel against the radio, saves the settings,
// warns the guests in the apps, and has the hotspot restart the AP.
func (b *Backend) SetWiFi(ctx context.Context, w settings.WiFi) error {
	hs, err := b.cfg.Hotspot.Status(ctx)
	if err != nil {
		return fmt.Errorf("the hotspot does not answer, so the Wi-Fi cannot change now: %w", err)
	}
	if len(hs.Channels) > 0 && !slices.Contains(hs.Channels, w.Channel) {
		return &admin.InputError{Msg: fmt.Sprintf("channel %d is not allowed here; choose one of %v", w.Channel, hs.Channels)}
	}
	old := settings.WiFi{SSID: hs.SSID, Passphrase: hs.Passphrase, Security: hs.Security}
	if err := b.update(func(s *settings.Settings) { s.WiFi = &w }); err != nil {
		return err
	}
	if old.SSID != w.SSID || old.Passphrase != w.Passphrase || old.Security != w.Security {
		b.cfg.Hub.Notice(fmt.Sprintf("The Wi-Fi changes in a moment: rejoin %q with the new QR code on the box's screen.", w.SSID))
		select {
		case <-time.After(b.cfg.WiFiNoticeDelay):
		case <-ctx.Done():
		}
	}
	// The change is saved: a hotspot that fails to reload now picks it up
	// at its next start.
	if err := b.cfg.Hotspot.Reload(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("saved, but the hotspot did not reload: %w", err)
	}
	return nil
}

// SetGuests saves where guests come from; the daemons apply it on reload.
func (b *Backend) SetGuests(ctx context.Context, g settings.Guests) error {
	if err := b.update(func(s *settings.Settings) { s.Guests = &g }); err != nil {
		return err
	}
	if err := b.cfg.Hotspot.Reload(ctx); err != nil {
		b.cfg.Logger.Warn("operator: the hotspot did not reload after a guest-source change", "err", err)
	}
	return nil
}

// LockRoom locks or unlocks a room.
func (b *Backend) LockRoom(_ context.Context, room string, locked bool) error {
	b.cfg.Hub.LockRoom(room, locked)
	return nil
}

// EndRoom ends a room's call.
func (b *Backend) EndRoom(_ context.Context, room string) error {
	if b.cfg.Hub.EndRoom(room) == 0 {
		return &admin.InputError{Msg: fmt.Sprintf("nobody is in #%s", room)}
	}
	return nil
}

// Kick drops the session, and has the hotspot deauthenticate the guest's
// station and refuse it for banFor.
func (b *Backend) Kick(ctx context.Context, id uint64, banFor time.Duration) error {
	ip, ok := b.cfg.Hub.Kick(id, banFor)
	if !ok {
		return &admin.InputError{Msg: fmt.Sprintf("no guest with id %d", id)}
	}
	if err := b.cfg.Hotspot.Ban(ctx, ip, banFor); err != nil {
		// Not on our Wi-Fi (a laptop, or Ethernet mode): the hub's ban holds.
		b.cfg.Logger.Info("operator: the hotspot did not ban the kicked guest", "ip", ip, "err", err)
	}
	return nil
}

// Reboot reboots the box.
func (b *Backend) Reboot(context.Context) error {
	if b.cfg.Reboot == nil {
		return &admin.InputError{Msg: "this hub is not running on a box: reboot the computer yourself"}
	}
	return b.cfg.Reboot()
}

// Restart restarts one daemon.
func (b *Backend) Restart(_ context.Context, service string) error {
	if b.cfg.Restart == nil {
		return &admin.InputError{Msg: "this hub is not running on a box: nothing restarts its services"}
	}
	return b.cfg.Restart(service)
}
