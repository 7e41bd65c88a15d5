package hub

import "sync"

// router keeps sessions by id and by room.
type router struct {
	mu    sync.RWMutex
	byID  map[int64]*session
	rooms map[string]map[int64]*session
	// locked rooms take no new members until the time (monotonic ns since
	// Hub.start; 0 = until unlocked), see operator.go.
	locked map[string]int64
}

func newRouter() *router {
	return &router{byID: map[int64]*session{}, rooms: map[string]map[int64]*session{}, locked: map[string]int64{}}
}

// add puts a new session in the default room "".
func (rt *router) add(s *session) {
	rt.mu.Lock()
	rt.byID[s.id] = s
	s.room = ""
	rt.addToRoomLocked(s)
	rt.mu.Unlock()
}

func (rt *router) addToRoomLocked(s *session) {
	m := rt.rooms[s.room]
	if m == nil {
		m = map[int64]*session{}
		rt.rooms[s.room] = m
	}
	m[s.id] = s
}

func (rt *router) removeFromRoomLocked(s *session) {
	if m := rt.rooms[s.room]; m != nil {
		delete(m, s.id)
		if len(m) == 0 {
			delete(rt.rooms, s.room)
		}
	}
}

// join moves s to room.
func (rt *router) join(s *session, room string) {
	rt.mu.Lock()
	if s.room != room {
		rt.removeFromRoomLocked(s)
		s.room = room
		rt.addToRoomLocked(s)
	}
	rt.mu.Unlock()
}

// remove forgets s and tells the rest of its room that it left.
func (rt *router) remove(s *session) {
	rt.mu.Lock()
	if rt.byID[s.id] != s {
		rt.mu.Unlock()
		return
	}
	delete(rt.byID, s.id)
	rt.removeFromRoomLocked(s)
	members := make([]*session, 0, len(rt.rooms[s.room]))
	for _, m := range rt.rooms[s.room] {
		members = append(members, m)
	}
	rt.mu.Unlock()
	if len(members) == 0 {
		return
	}
	bye := fromFrame(s.id, byePayload)
	for _, m := range members {
		m.send(bye)
	}
}

// peers is the reply to a peers request: every id in s's room, s included.
func (rt *router) peers(s *session) []byte {
	rt.mu.RLock()
	m := rt.rooms[s.room]
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	rt.mu.RUnlock()
	return peersFrame(ids)
}

// route delivers payload from s to the session with id to, if it is in the
// same room; anything else is dropped.
func (rt *router) route(s *session, to int64, payload []byte) {
	rt.mu.RLock()
	d := rt.byID[to]
	ok := d != nil && d.room == s.room
	rt.mu.RUnlock()
	if !ok {
		s.hub.drops.add(dropNotRoutable)
		return
	}
	d.send(fromFrame(s.id, payload))
}
