package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
)

// Operator sessions: a few at once (an operator's phone and laptop), each
// ending after an idle hour. The table keys on a hash of the token, so a
// timing difference in the map lookup says nothing about a valid token.
const (
	maxSessions = 8
	sessionIdle = time.Hour
)

type session struct {
	id       string // a short label for the audit log, not the token
	lastUsed time.Time
	order    uint64 // when it was last used, in uses: breaks ties of lastUsed
}

type sessions struct {
	now func() time.Time

	mu   sync.Mutex
	byID map[[32]byte]*session
	uses uint64
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: map[[32]byte]*session{}}
}

// create starts a session and returns its token; the oldest session goes
// when the table is full.
func (s *sessions) create() (token string, label string) {
	var raw [32]byte
	rand.Read(raw[:]) // never fails
	token = base64.RawURLEncoding.EncodeToString(raw[:])
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if len(s.byID) >= maxSessions {
		var oldest [32]byte
		var least *session
		for k, v := range s.byID {
			if least == nil || v.order < least.order {
				oldest, least = k, v
			}
		}
		delete(s.byID, oldest)
	}
	label = hex.EncodeToString(key[:3])
	s.uses++
	s.byID[key] = &session{id: label, lastUsed: now, order: s.uses}
	return token, label
}

// check returns the session's label and refreshes it, or "" when the token
// is unknown or expired.
func (s *sessions) check(token string) string {
	if token == "" {
		return ""
	}
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	v := s.byID[key]
	if v == nil {
		return ""
	}
	s.uses++
	v.lastUsed, v.order = now, s.uses
	return v.id
}

func (s *sessions) end(token string) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, key)
}

func (s *sessions) expire(now time.Time) {
	for k, v := range s.byID {
		if now.Sub(v.lastUsed) >= sessionIdle {
			delete(s.byID, k)
		}
	}
}
