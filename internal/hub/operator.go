package hub

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"time"
	"unicode"
)

// What the operator page (internal/operator) changes in a running hub:
// locked rooms, ended rooms, kicked guests, notices to every app. The
// frames these send are the box's own (docs/protocol.md §4.1).

// endedLock is how long an ended room stays locked, so apps that
// reconnect on their own do not reopen it.
const endedLock = 10 * time.Minute

// maxNameBytes bounds the display name the hub remembers per session.
const maxNameBytes = 40

// RoomInfo is a room and its sessions, for the operator.
type RoomInfo struct {
	Name    string
	Locked  bool
	Members []MemberInfo
}

// MemberInfo is one session.
type MemberInfo struct {
	ID   int64
	Addr netip.Addr
	// Name is the name the app announces in its presence, if seen, and
	// Cam whether it says its camera is on.
	Name string
	Cam  bool
}

// Rooms lists the rooms and their sessions, biggest first.
func (h *Hub) Rooms() []RoomInfo {
	now := h.now()
	rt := h.router
	rt.mu.RLock()
	out := make([]RoomInfo, 0, len(rt.rooms))
	for name, members := range rt.rooms {
		ri := RoomInfo{Name: name, Locked: rt.lockedLocked(name, now)}
		for id, s := range members {
			ri.Members = append(ri.Members, MemberInfo{ID: id, Addr: s.r.addr.Addr().Unmap(), Name: s.displayName(), Cam: s.cam.Load()})
		}
		sort.Slice(ri.Members, func(i, j int) bool { return ri.Members[i].ID < ri.Members[j].ID })
		out = append(out, ri)
	}
	rt.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Members) != len(out[j].Members) {
			return len(out[i].Members) > len(out[j].Members)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// LockRoom keeps new sessions out of room, or lets them in again.
func (h *Hub) LockRoom(room string, locked bool) {
	rt := h.router
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !locked {
		delete(rt.locked, room)
		return
	}
	rt.locked[room] = 0
}

// EndRoom tells every member of room that it ended, moves them to room
// "", and keeps room locked for a while. It returns how many it moved.
func (h *Hub) EndRoom(room string) int {
	rt := h.router
	rt.mu.Lock()
	if until, ok := rt.locked[room]; !ok || until != 0 { // a lock for good stays
		rt.locked[room] = h.now() + int64(endedLock)
	}
	members := make([]*session, 0, len(rt.rooms[room]))
	for _, s := range rt.rooms[room] {
		members = append(members, s)
	}
	rt.mu.Unlock()
	frame := refusedFrame(room, "ended")
	for _, s := range members {
		s.send(frame)
		h.router.join(s, "")
	}
	return len(members)
}

// Kick ends session id and refuses its address for banFor; it returns
// the address, or false if there is no such session.
func (h *Hub) Kick(id int64, banFor time.Duration) (netip.Addr, bool) {
	h.router.mu.RLock()
	s := h.router.byID[id]
	h.router.mu.RUnlock()
	if s == nil {
		return netip.Addr{}, false
	}
	addr := s.r.addr.Addr().Unmap()
	h.mu.Lock()
	if banFor > 0 {
		h.bans[addr] = h.now() + int64(banFor)
	}
	h.mu.Unlock()
	s.send(refusedFrame("", "kicked"))
	// Give the frame a moment to leave, then abort the association so the
	// client learns at once that the session is over.
	time.AfterFunc(200*time.Millisecond, func() {
		s.assoc.Abort("removed by the operator")
		s.r.close("kicked")
	})
	return addr, true
}

// Notice sends text to every connected app.
func (h *Hub) Notice(text string) {
	b, _ := json.Marshal(struct {
		T    string `json:"t"`
		Text string `json:"text"`
	}{"notice", text})
	h.broadcast(b)
}

// AirBudget tells every connected app the relay's air budget (kb/s, 0 =
// no limit), so our app shapes its video before the relay has to.
func (h *Hub) AirBudget(kbps int) {
	b, _ := json.Marshal(struct {
		T      string `json:"t"`
		Budget int    `json:"budget_kbps"`
	}{"air", kbps})
	h.broadcast(b)
}

// broadcast sends frame to every session.
func (h *Hub) broadcast(frame []byte) {
	h.router.mu.RLock()
	all := make([]*session, 0, len(h.router.byID))
	for _, s := range h.router.byID {
		all = append(all, s)
	}
	h.router.mu.RUnlock()
	for _, s := range all {
		s.send(frame)
	}
}

// banned reports whether the operator keeps addr out.
func (h *Hub) banned(addr netip.Addr) bool {
	addr = addr.Unmap()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bans) == 0 {
		return false
	}
	until, ok := h.bans[addr]
	if ok && h.now() >= until {
		delete(h.bans, addr)
		return false
	}
	return ok
}

// lockedLocked reports whether room takes no new members; rt.mu is held
// (for reading at least).
func (rt *router) lockedLocked(room string, now int64) bool {
	until, ok := rt.locked[room]
	return ok && (until == 0 || now < until)
}

// joinUnlessLocked moves s to room unless the operator locked it; then s
// gets a refused frame and stays where it is.
func (rt *router) joinUnlessLocked(s *session, room string) {
	rt.mu.RLock()
	locked := s.room != room && rt.lockedLocked(room, s.hub.now())
	rt.mu.RUnlock()
	if locked {
		s.send(refusedFrame(room, "locked"))
		return
	}
	rt.join(s, room)
}

func refusedFrame(room, why string) []byte {
	b, _ := json.Marshal(struct {
		T    string `json:"t"`
		Room string `json:"room"`
		Why  string `json:"why"`
	}{"refused", room, why})
	return b
}

// notePresence remembers the name a session announces to its room in a
// `present` payload, for the operator's list of guests.
func (s *session) notePresence(payload []byte) {
	if len(payload) > 4096 || !bytes.Contains(payload, []byte(`"present"`)) {
		return
	}
	var p struct {
		K    string `json:"k"`
		Name string `json:"name"`
		Cam  bool   `json:"cam"`
	}
	if json.Unmarshal(payload, &p) != nil || p.K != "present" {
		return
	}
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(p.Name))
	if len(name) > maxNameBytes {
		name = strings.ToValidUTF8(name[:maxNameBytes], "")
	}
	s.name.Store(&name)
	s.cam.Store(p.Cam)
}

func (s *session) displayName() string {
	if n := s.name.Load(); n != nil {
		return *n
	}
	return ""
}
