package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"net/netip"
	"sync"
	"time"
)

// Unlock limits. A code has 10^6 values; with 5 tries a minute per client
// and a fresh code after every 20 wrong tries box-wide, guessing stays a
// fresh one-in-a-million problem every few minutes even for many clients.
const (
	TriesPerMinute   = 5
	rotateAfterWrong = 20
	maxClients       = 1024
	window           = time.Minute
)

// Unlocker holds the operator code shown on the box's screen and the
// per-client tries. The code changes at each start (New), after each
// successful unlock, and after rotateAfterWrong wrong tries.
type Unlocker struct {
	now func() time.Time

	mu      sync.Mutex
	code    string
	wrong   int // wrong tries against the current code
	tries   map[netip.Addr][]time.Time
	lockout time.Time // the last time a client was locked out
}

// NewUnlocker makes a fresh code.
func NewUnlocker(now func() time.Time) *Unlocker {
	if now == nil {
		now = time.Now
	}
	u := &Unlocker{now: now, tries: map[netip.Addr][]time.Time{}}
	u.rotate()
	return u
}

// Code is the current code, for the screen only (loopback status).
func (u *Unlocker) Code() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.code
}

// LockedOut reports whether some client was locked out within the last
// minute, so the screen can say so.
func (u *Unlocker) LockedOut() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.lockout.IsZero() && u.now().Sub(u.lockout) < window
}

// ErrTooManyTries is returned while a client has used up its tries.
type ErrTooManyTries struct{ RetryAfter time.Duration }

func (e *ErrTooManyTries) Error() string {
	return fmt.Sprintf("too many tries: wait %d s", int(e.RetryAfter.Seconds()+0.999))
}

// Try checks code from client. It returns nil and rotates the code when
// it matches; a wrong code or a client over its tries gets an error.
func (u *Unlocker) Try(client netip.Addr, code string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	recent := u.tries[client][:0]
	for _, t := range u.tries[client] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= TriesPerMinute {
		u.tries[client] = recent
		u.lockout = now
		return &ErrTooManyTries{RetryAfter: window - now.Sub(recent[0])}
	}
	if _, known := u.tries[client]; !known && len(u.tries) >= maxClients {
		u.forgetOld(now)
	}
	u.tries[client] = append(recent, now)
	if subtle.ConstantTimeCompare([]byte(code), []byte(u.code)) == 1 {
		delete(u.tries, client)
		u.rotate()
		return nil
	}
	u.wrong++
	if u.wrong >= rotateAfterWrong {
		u.rotate()
	}
	return errWrongCode
}

var errWrongCode = fmt.Errorf("wrong code")

// forgetOld drops clients with no try in the window; if all are recent,
// it drops the whole table (the box-wide rotation still bounds guessing).
func (u *Unlocker) forgetOld(now time.Time) {
	for c, ts := range u.tries {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= window {
			delete(u.tries, c)
		}
	}
	if len(u.tries) >= maxClients {
		clear(u.tries)
	}
}

func (u *Unlocker) rotate() {
	// crypto/rand's reader never fails (it crashes the program instead).
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	u.code = fmt.Sprintf("%06d", n.Int64())
	u.wrong = 0
}
