package hubd

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/operator"
	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// hubDefaults are the hub's flags as settings sections; the settings
// file's sections win over them.
func hubDefaults(cfg Config) settings.Settings {
	return settings.Settings{
		Calls:  &settings.Calls{DefaultRoom: cfg.Room, RoomCap: cfg.RoomCap},
		Guests: &settings.Guests{Source: settings.SourceWiFi},
	}
}

// newAdmin wires the operator page's API to this hub's parts.
func newAdmin(cfg Config, h *hub.Hub, calls *webCalls, log *slog.Logger, start time.Time) *admin.Server {
	built := cfg.BuildTime
	if built.IsZero() {
		built = web.BuildDate()
	}
	backend := operator.New(operator.Config{
		SettingsPath: settings.Path(cfg.StateDir),
		Defaults:     hubDefaults(cfg),
		Hub:          hubOps{h},
		Calls:        calls,
		Hotspot:      hotspotClient(cfg),
		Facts:        operator.Facts{PermDir: cfg.StateDir, ThermalFile: operator.DefaultThermalFile, BuildTime: built},
		Version:      cfg.Version,
		Start:        start,
		Reboot:       boxReboot(),
		Restart:      boxRestart(),
		Logger:       log,
	})
	return admin.New(backend, log, nil)
}

// hotspotClient talks to the hotspot's loopback status and control API.
func hotspotClient(cfg Config) *operator.HotspotClient {
	addr := cfg.HotspotStatusAddr
	if addr == "" {
		addr = status.HotspotAddr
	}
	return operator.NewHotspotClient(addr)
}

// hubOps adapts the hub to what the operator changes.
type hubOps struct{ h *hub.Hub }

func (o hubOps) Rooms() []admin.Room {
	var out []admin.Room
	for _, r := range o.h.Rooms() {
		ar := admin.Room{Name: r.Name, Locked: r.Locked, Members: []admin.Member{}}
		for _, m := range r.Members {
			ar.Members = append(ar.Members, admin.Member{ID: uint64(m.ID), Name: m.Name, IP: m.Addr.String()})
		}
		out = append(out, ar)
	}
	return out
}

func (o hubOps) LockRoom(room string, locked bool) { o.h.LockRoom(room, locked) }
func (o hubOps) EndRoom(room string) int           { return o.h.EndRoom(room) }
func (o hubOps) Notice(text string)                { o.h.Notice(text) }
func (o hubOps) Kick(id uint64, d time.Duration) (addr netip.Addr, ok bool) {
	return o.h.Kick(int64(id), d)
}

// webCalls adapts the web server's live call settings; w is set once the
// web server exists (it needs the admin handler first).
type webCalls struct{ w *web.Server }

func (c *webCalls) SetCalls(room string, roomCap int) {
	c.w.SetCalls(web.Calls{DefaultRoom: room, RoomCap: roomCap})
}
