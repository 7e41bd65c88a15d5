// Package admin is the server side of the operator page: unlocking with
// the 6-digit code that only the box's screen shows, operator sessions,
// and the /api/admin/ JSON API through which an operator with a phone
// changes the box's settings, rooms and guests. What a change does is the
// Backend's business; this package checks who asks, and logs who changed
// what (never a secret).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/settings"
)

// CookieName is the operator session cookie.
const CookieName = "kibitzbox_admin"

// maxBody bounds a request body; every admin request is a small JSON object.
const maxBody = 16 << 10

// State is everything the operator page shows.
type State struct {
	Settings Settings `json:"settings"`
	// Channels are the legal channels for the country, read from the radio
	// (empty without one).
	Channels []int     `json:"channels"`
	Hotspot  string    `json:"hotspot"`
	Stations []Station `json:"stations"`
	Rooms    []Room    `json:"rooms"`
	Box      Box       `json:"box"`
}

// Settings are the settings in force: the operator's where set, otherwise
// what the daemons run with.
type Settings struct {
	WiFi   settings.WiFi   `json:"wifi"`
	Calls  settings.Calls  `json:"calls"`
	Guests settings.Guests `json:"guests"`
}

// Station is a Wi-Fi station associated to the box.
type Station struct {
	MAC       string    `json:"mac"`
	IP        string    `json:"ip,omitempty"`
	SignalDBm int       `json:"signal_dbm"`
	Since     time.Time `json:"since"`
	Name      string    `json:"name,omitempty"`
}

// Room is a room with its guests.
type Room struct {
	Name    string   `json:"name"`
	Locked  bool     `json:"locked"`
	Members []Member `json:"members"`
}

// Member is one hub session.
type Member struct {
	ID        uint64  `json:"id"`
	Name      string  `json:"name,omitempty"`
	IP        string  `json:"ip"`
	RelayKbps float64 `json:"relay_kbps"`
	Drops     uint64  `json:"drops"`
}

// Box is the machine itself.
type Box struct {
	Version string  `json:"version"`
	UptimeS float64 `json:"uptime_s"`
	// TempC is the SoC temperature; nil where the machine has no sensor.
	TempC         *float64 `json:"temp_c"`
	PermFreeBytes uint64   `json:"perm_free_bytes"`
	ClockSet      bool     `json:"clock_set"`
}

// Services an operator may restart.
var Services = []string{"hub", "hotspot", "display"}

// Backend carries out what the operator asks. Errors that are the
// operator's (a bad value) should be *InputError, so the page shows them.
type Backend interface {
	State(ctx context.Context) (State, error)
	SetCalls(ctx context.Context, c settings.Calls) error
	SetWiFi(ctx context.Context, w settings.WiFi) error
	SetGuests(ctx context.Context, g settings.Guests) error
	LockRoom(ctx context.Context, room string, locked bool) error
	EndRoom(ctx context.Context, room string) error
	// Kick drops the session and keeps its guest out for the given time.
	Kick(ctx context.Context, id uint64, banFor time.Duration) error
	Reboot(ctx context.Context) error
	Restart(ctx context.Context, service string) error
}

// InputError is a refusal the operator can fix.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Server serves /api/admin/.
type Server struct {
	backend  Backend
	log      *slog.Logger
	unlock   *Unlocker
	sessions *sessions
	handler  http.Handler
}

// New returns the admin API. now is time.Now in production.
func New(backend Backend, log *slog.Logger, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	s := &Server{backend: backend, log: log, unlock: NewUnlocker(now), sessions: newSessions(now)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/admin/login", s.login)
	mux.HandleFunc("POST /api/admin/logout", s.authed(s.logout))
	mux.HandleFunc("GET /api/admin/state", s.authed(s.state))
	mux.HandleFunc("POST /api/admin/calls", s.authed(s.setCalls))
	mux.HandleFunc("POST /api/admin/wifi", s.authed(s.setWiFi))
	mux.HandleFunc("POST /api/admin/guests", s.authed(s.setGuests))
	mux.HandleFunc("POST /api/admin/rooms/lock", s.authed(s.lockRoom))
	mux.HandleFunc("POST /api/admin/rooms/end", s.authed(s.endRoom))
	mux.HandleFunc("POST /api/admin/kick", s.authed(s.kick))
	mux.HandleFunc("POST /api/admin/reboot", s.authed(s.reboot))
	mux.HandleFunc("POST /api/admin/restart", s.authed(s.restart))
	mux.HandleFunc("/api/admin/", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeError(w, http.StatusNotFound, "no such admin call")
	}))
	// Browsers tell cross-site requests apart (Sec-Fetch-Site, Origin);
	// refuse them all, so another page cannot drive a logged-in operator's
	// browser. The SameSite=Strict cookie is the second line.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-site request refused")
	}))
	s.handler = cop.Handler(mux)
	return s
}

// ServeHTTP serves /api/admin/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// Every change is a JSON POST: that keeps out plain cross-site form
	// posts, which a browser sends without asking the server first.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "send application/json")
			return
		}
	}
	s.handler.ServeHTTP(w, r)
}

// Code is the operator code for the screen (loopback status only).
func (s *Server) Code() string { return s.unlock.Code() }

// LockedOut reports a recent lockout, for the screen.
func (s *Server) LockedOut() bool { return s.unlock.LockedOut() }

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &req) {
		return
	}
	client := clientAddr(r)
	err := s.unlock.Try(client, req.Code)
	var many *ErrTooManyTries
	switch {
	case errors.As(err, &many):
		s.log.Warn("admin: unlock refused, too many tries", "client", client)
		w.Header().Set("Retry-After", strconv.Itoa(int(many.RetryAfter.Seconds()+0.999)))
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		s.log.Info("admin: wrong operator code", "client", client)
		writeError(w, http.StatusUnauthorized, "wrong code: read it off the box's screen")
		return
	}
	token, label := s.sessions.create()
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionIdle.Seconds()),
	})
	s.log.Info("admin: operator unlocked", "client", client, "session", label)
	w.WriteHeader(http.StatusNoContent)
}

// authed wraps a handler that needs an operator session; it passes the
// session's label ("who") for the audit log.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		label := ""
		if err == nil {
			label = s.sessions.check(c.Value)
		}
		if label == "" {
			writeError(w, http.StatusUnauthorized, "not unlocked: enter the code shown on the box's screen")
			return
		}
		h(w, r, fmt.Sprintf("session %s from %s", label, clientAddr(r)))
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, who string) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.log.Info("admin: operator logged out", "who", who)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) state(w http.ResponseWriter, r *http.Request, _ string) {
	st, err := s.backend.State(r.Context())
	if err != nil {
		s.fail(w, "state", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) setCalls(w http.ResponseWriter, r *http.Request, who string) {
	var c settings.Calls
	if !decode(w, r, &c) {
		return
	}
	if err := c.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.do(w, who, "set calls", []any{"default_room", c.DefaultRoom, "room_cap", c.RoomCap},
		func() error { return s.backend.SetCalls(r.Context(), c) })
}

func (s *Server) setWiFi(w http.ResponseWriter, r *http.Request, who string) {
	var wf settings.WiFi
	if !decode(w, r, &wf) {
		return
	}
	if wf.SSID == "" {
		writeError(w, http.StatusBadRequest, "wifi.ssid: the network needs a name")
		return
	}
	if wf.Security == settings.SecurityWPA2 && wf.Passphrase == "" {
		writeError(w, http.StatusBadRequest, "wifi.passphrase: WPA2 needs a passphrase")
		return
	}
	if err := wf.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The passphrase is a secret: the log says only that it was set.
	s.do(w, who, "set wifi", []any{"ssid", wf.SSID, "security", wf.Security, "hidden", wf.Hidden,
		"country", wf.Country, "channel", wf.Channel, "ap_isolation", wf.APIsolation, "passphrase", "(set, not logged)"},
		func() error { return s.backend.SetWiFi(r.Context(), wf) })
}

func (s *Server) setGuests(w http.ResponseWriter, r *http.Request, who string) {
	var g settings.Guests
	if !decode(w, r, &g) {
		return
	}
	if g.Source == "" {
		writeError(w, http.StatusBadRequest, "guests.source: wifi, ethernet or both")
		return
	}
	if err := g.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.do(w, who, "set guests", []any{"source", g.Source, "venue_ssid", g.VenueSSID},
		func() error { return s.backend.SetGuests(r.Context(), g) })
}

func (s *Server) lockRoom(w http.ResponseWriter, r *http.Request, who string) {
	var req struct {
		Room   string `json:"room"`
		Locked bool   `json:"locked"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.do(w, who, "lock room", []any{"room", req.Room, "locked", req.Locked},
		func() error { return s.backend.LockRoom(r.Context(), req.Room, req.Locked) })
}

func (s *Server) endRoom(w http.ResponseWriter, r *http.Request, who string) {
	var req struct {
		Room string `json:"room"`
	}
	if !decode(w, r, &req) {
		return
	}
	s.do(w, who, "end room", []any{"room", req.Room},
		func() error { return s.backend.EndRoom(r.Context(), req.Room) })
}

// maxBan bounds a kick's ban: a mistaken kick must not lock a guest out
// for the whole event.
const maxBan = 24 * time.Hour

func (s *Server) kick(w http.ResponseWriter, r *http.Request, who string) {
	var req struct {
		ID      uint64 `json:"id"`
		Minutes int    `json:"minutes"`
	}
	if !decode(w, r, &req) {
		return
	}
	ban := time.Duration(req.Minutes) * time.Minute
	if req.ID == 0 || ban < 0 || ban > maxBan {
		writeError(w, http.StatusBadRequest, "kick: a session id and 0 to 1440 minutes")
		return
	}
	s.do(w, who, "kick", []any{"id", req.ID, "ban", ban.String()},
		func() error { return s.backend.Kick(r.Context(), req.ID, ban) })
}

func (s *Server) reboot(w http.ResponseWriter, r *http.Request, who string) {
	s.do(w, who, "reboot", nil, func() error { return s.backend.Reboot(r.Context()) })
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request, who string) {
	var req struct {
		Service string `json:"service"`
	}
	if !decode(w, r, &req) {
		return
	}
	known := false
	for _, sv := range Services {
		known = known || sv == req.Service
	}
	if !known {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("restart: unknown service %q (hub, hotspot or display)", req.Service))
		return
	}
	s.do(w, who, "restart", []any{"service", req.Service},
		func() error { return s.backend.Restart(r.Context(), req.Service) })
}

// do runs one change and logs it with who asked.
func (s *Server) do(w http.ResponseWriter, who, what string, attrs []any, change func() error) {
	if err := change(); err != nil {
		s.log.Warn("admin: change refused", append([]any{"who", who, "what", what, "err", err}, attrs...)...)
		s.fail(w, what, err)
		return
	}
	s.log.Info("admin: change", append([]any{"who", who, "what", what}, attrs...)...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	var in *InputError
	if errors.As(err, &in) {
		writeError(w, http.StatusBadRequest, in.Msg)
		return
	}
	s.log.Error("admin: failed", "what", what, "err", err)
	writeError(w, http.StatusBadGateway, what+" failed: "+err.Error())
}

// decode reads a small JSON object (ServeHTTP checked the content type).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
