package hubd

import (
	"sort"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/turnrelay"
)

// This file is the one place where the hub's parts' own stats
// (hub.Stats, turnrelay.Stats) become the status contract (status.Hub)
// and /metrics.

// statusSource builds the /status document and /metrics.
type statusSource struct {
	cfg       Config
	hub       *hub.Hub
	relay     *turnrelay.Server
	blob      string
	appURL    string
	kibitzURL string
	turnPort  int

	mu        sync.Mutex
	lastBytes uint64
	lastAt    time.Time
	rate      float64
}

func (s *statusSource) doc() status.Hub {
	hs := s.hub.Stats()
	d := status.Hub{
		Version:       s.cfg.Version,
		UptimeSeconds: hs.Uptime.Seconds(),
		Blob:          s.blob,
		AppURL:        s.appURL,
		KibitzURL:     s.kibitzURL,
		DefaultRoom:   galaxy.NormalizeRoom(s.cfg.Room),
		Discoverable:  s.cfg.Discoverable,
		Sessions:      hs.Sessions,
		Rooms:         []status.Room{},
		Drops:         hs.Drops,
	}
	for _, r := range hs.Rooms {
		d.Rooms = append(d.Rooms, status.Room{Name: r.Name, Members: r.Members})
		if r.Name != "" {
			d.InCall += r.Members
		}
	}
	d.TURN.Port = s.turnPort
	if s.relay != nil {
		ts := s.relay.Stats()
		d.TURN.Allocations = ts.Allocations
		d.TURN.RelayedBytes = ts.RelayedBytes
		d.TURN.RefusedRequests = ts.Refused
		d.TURN.BytesPerSecond = s.byteRate(ts.RelayedBytes)
	}
	return d
}

// byteRate is the relayed byte rate since the previous status request
// (at least a second apart, so a fast poller sees a steady figure).
func (s *statusSource) byteRate(total uint64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.lastAt.IsZero() {
		s.lastAt, s.lastBytes = now, total
		return 0
	}
	if el := now.Sub(s.lastAt); el >= time.Second {
		s.rate = float64(total-s.lastBytes) / el.Seconds()
		s.lastAt, s.lastBytes = now, total
	}
	return s.rate
}

func (s *statusSource) writeMetrics(w *metrics.Writer) {
	hs := s.hub.Stats()
	w.Gauge("kibitz_hub_uptime_seconds", "Seconds since the hub started.", hs.Uptime.Seconds(), nil)
	w.Gauge("kibitz_hub_sessions", "Open hub sessions.", float64(hs.Sessions), nil)
	w.Gauge("kibitz_hub_remotes", "Addresses with a session or a handshake in progress.", float64(hs.Remotes), nil)
	w.Counter("kibitz_hub_sessions_opened_total", "Hub sessions opened.", float64(hs.Joins), nil)
	w.Counter("kibitz_hub_frames_received_total", "Frames read from clients.", float64(hs.FramesIn), nil)
	w.Counter("kibitz_hub_frames_sent_total", "Frames written to clients.", float64(hs.FramesOut), nil)
	w.Gauge("kibitz_hub_rooms", "Rooms with at least one member.", float64(len(hs.Rooms)), nil)
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
}
