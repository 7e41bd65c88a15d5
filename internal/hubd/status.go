package hubd

import (
	"sort"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/turnrelay"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// This file is the one place where the hub's parts' own stats
// (hub.Stats, turnrelay.Stats, web.Stats) become the status contract
// (status.Hub) and /metrics.

// statusSource builds the /status document and /metrics.
type statusSource struct {
	cfg   Config
	hub   *hub.Hub
	relay *turnrelay.Server // nil without TURN
	web   *web.Server       // nil without the web server
	admin *admin.Server     // nil without the operator page
	blob  string
	// room is the default room without a web server (which otherwise
	// holds it: the operator may change it).
	room       string
	kibitzLink func(room string) string
	turnPort   int
}

func (s *statusSource) doc() status.Hub {
	var ts *turnrelay.Stats
	if s.relay != nil {
		st := s.relay.Stats()
		ts = &st
	}
	var ws *web.Stats
	if s.web != nil {
		st := s.web.Stats()
		ws = &st
	}
	d := hubDoc(s.hub.Stats(), ts, ws)
	d.Version = s.cfg.Version
	room := s.room
	if s.web != nil {
		room = s.web.Calls().DefaultRoom
		d.AppURL = s.web.AppURL(room)
	}
	d.Blob, d.KibitzURL = s.blob, s.kibitzLink(room)
	d.DefaultRoom = galaxy.NormalizeRoom(room)
	if s.relay != nil {
		var members []hub.MemberInfo
		for _, r := range s.hub.Rooms() {
			if r.Name == d.DefaultRoom {
				members = r.Members
			}
		}
		d.Air = airDoc(s.relay.AirStats(), members)
	}
	if s.admin != nil {
		// Loopback only: the code unlocks the operator page.
		d.OperatorCode = s.admin.Code()
		d.OperatorLockout = s.admin.LockedOut()
	}
	d.Discoverable = s.cfg.Discoverable
	d.TURN.Port = s.turnPort
	return d
}

// hubDoc maps the parts' stats to the status document (the fields that
// come from the configuration are the caller's). ts and ws are nil when
// TURN or the web server are off.
func hubDoc(hs hub.Stats, ts *turnrelay.Stats, ws *web.Stats) status.Hub {
	d := status.Hub{
		UptimeSeconds: hs.Uptime.Seconds(),
		Sessions:      hs.Sessions,
		Rooms:         []status.Room{},
		// Rooms lists only the biggest rooms; the hub counts the rest and
		// the sessions in named rooms (the unnamed one holds guests who
		// opened the app but have not joined a call yet).
		OtherRooms: hs.OtherRooms,
		InCall:     hs.InCall,
		Drops:      hs.Drops,
	}
	for _, r := range hs.Rooms {
		d.Rooms = append(d.Rooms, status.Room{Name: r.Name, Members: r.Members})
	}
	if ts != nil {
		d.TURN.Allocations = ts.Allocations
		d.TURN.RelayedBytes = ts.RelayedBytes
		d.TURN.RefusedRequests = ts.Refused
		d.TURN.BytesPerSecond = ts.BytesPerSecond
	}
	if ws != nil {
		d.Web = &status.Web{
			CaptiveClients: ws.CaptiveClients,
			AppLoads:       ws.AppLoads,
			Joins:          ws.Joins,
			ProbeSuccesses: ws.ProbeSuccesses,
			Splashes:       ws.Splashes,
			Redirects:      ws.Redirects,
		}
	}
	return d
}

func (s *statusSource) writeMetrics(w *metrics.Writer) {
	hs := s.hub.Stats()
	w.Gauge("kibitz_hub_uptime_seconds", "Seconds since the hub started.", hs.Uptime.Seconds(), nil)
	w.Gauge("kibitz_hub_sessions", "Open hub sessions.", float64(hs.Sessions), nil)
	w.Gauge("kibitz_hub_remotes", "Addresses with a session or a handshake in progress.", float64(hs.Remotes), nil)
	w.Counter("kibitz_hub_sessions_opened_total", "Hub sessions opened.", float64(hs.Joins), nil)
	w.Counter("kibitz_hub_frames_received_total", "Frames read from clients.", float64(hs.FramesIn), nil)
	w.Counter("kibitz_hub_frames_sent_total", "Frames written to clients.", float64(hs.FramesOut), nil)
	w.Gauge("kibitz_hub_rooms", "Rooms with at least one member.", float64(hs.RoomCount), nil)
	reasons := make([]string, 0, len(hs.Drops))
	for r := range hs.Drops {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		w.Counter("kibitz_hub_dropped_total", "Frames or packets the hub discarded, by reason.", float64(hs.Drops[r]), metrics.Labels{"reason": r})
	}
	if s.relay != nil {
		s.relay.WriteMetrics(w)
	}
	if s.web != nil {
		ws := s.web.Stats()
		w.Gauge("kibitz_web_captive_clients", "Clients released from the captive portal.", float64(ws.CaptiveClients), nil)
		w.Counter("kibitz_web_app_loads_total", "Loads of the call app page.", float64(ws.AppLoads), nil)
		w.Counter("kibitz_web_joins_total", "Join requests (/api/join).", float64(ws.Joins), nil)
		w.Counter("kibitz_web_probe_successes_total", "Captive portal probes answered online.", float64(ws.ProbeSuccesses), nil)
		w.Counter("kibitz_web_splashes_total", "Captive portal probes answered with the splash page.", float64(ws.Splashes), nil)
		w.Counter("kibitz_web_redirects_total", "Port 80 requests redirected to HTTPS.", float64(ws.Redirects), nil)
	}
}
