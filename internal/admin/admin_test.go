package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/settings"
)

// recorder is a Backend that records the calls the API makes, so these
// tests can check the API layer (who may call, what reaches the backend);
// the real backend is tested with the hub in the browser tests.
type recorder struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (b *recorder) add(format string, args ...any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
	return b.err
}

func (b *recorder) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func (b *recorder) State(context.Context) (State, error) {
	return State{Box: Box{Version: "v-test"}, Rooms: []Room{{Name: "lobby", Members: []Member{{ID: 7, IP: "10.42.0.10"}}}}}, b.add("state")
}
func (b *recorder) SetCalls(_ context.Context, c settings.Calls) error {
	return b.add("calls %s %d", c.DefaultRoom, c.RoomCap)
}
func (b *recorder) SetWiFi(_ context.Context, w settings.WiFi) error {
	return b.add("wifi %s %s", w.SSID, w.Passphrase)
}
func (b *recorder) SetGuests(_ context.Context, g settings.Guests) error {
	return b.add("guests %s", g.Source)
}
func (b *recorder) LockRoom(_ context.Context, room string, locked bool) error {
	return b.add("lock %s %v", room, locked)
}
func (b *recorder) EndRoom(_ context.Context, room string) error { return b.add("end %s", room) }
func (b *recorder) Kick(_ context.Context, id uint64, ban time.Duration) error {
	return b.add("kick %d %v", id, ban)
}
func (b *recorder) Reboot(context.Context) error               { return b.add("reboot") }
func (b *recorder) Restart(_ context.Context, sv string) error { return b.add("restart %s", sv) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rig struct {
	srv     *Server
	backend *recorder
	clock   *clock
	logs    *syncBuffer
	ts      *httptest.Server
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{backend: &recorder{}, clock: &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	r.srv = New(r.backend, slog.New(slog.NewTextHandler(r.logs, nil)), r.clock.now)
	r.ts = httptest.NewTLSServer(r.srv)
	t.Cleanup(r.ts.Close)
	return r
}

// client is a browser-like client with its own cookie jar.
func (r *rig) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := r.ts.Client()
	return &http.Client{Transport: c.Transport, Jar: jar}
}

func (r *rig) post(t *testing.T, c *http.Client, path string, body any) *http.Response {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", r.ts.URL+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	// What a browser sends for a fetch from the admin page itself.
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (r *rig) login(t *testing.T) *http.Client {
	t.Helper()
	c := r.client(t)
	if resp := r.post(t, c, "/api/admin/login", map[string]string{"code": r.srv.Code()}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login with the screen's code: %s", resp.Status)
	}
	return c
}

func TestUnlockSetsAStrictCookieAndRotatesTheCode(t *testing.T) {
	r := newRig(t)
	code := r.srv.Code()
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Fatalf("operator code %q is not 6 digits", code)
	}
	c := r.client(t)
	resp := r.post(t, c, "/api/admin/login", map[string]string{"code": code})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login: %s", resp.Status)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != CookieName || !cookies[0].HttpOnly || !cookies[0].Secure ||
		cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Path != "/" {
		t.Errorf("session cookie %+v, want HttpOnly, Secure, SameSite=Strict, Path=/", cookies)
	}
	if r.srv.Code() == code {
		t.Error("the code did not change after a successful unlock")
	}
	if resp := r.post(t, r.client(t), "/api/admin/login", map[string]string{"code": code}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the used code unlocked again: %s", resp.Status)
	}
	get, err := c.Get(r.ts.URL + "/api/admin/state")
	if err != nil {
		t.Fatal(err)
	}
	var st State
	json.NewDecoder(get.Body).Decode(&st)
	get.Body.Close()
	if get.StatusCode != http.StatusOK || st.Box.Version != "v-test" || len(st.Rooms) != 1 {
		t.Errorf("state with a session: %s %+v", get.Status, st)
	}
}

func TestEveryAdminCallNeedsASession(t *testing.T) {
	r := newRig(t)
	c := r.client(t)
	for _, p := range []string{"/api/admin/state", "/api/admin/nothing-here"} {
		resp, err := c.Get(r.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %s, want 401", p, resp.Status)
		}
	}
	for _, p := range []string{"logout", "calls", "wifi", "guests", "rooms/lock", "rooms/end", "kick", "reboot", "restart", "nothing-here"} {
		if resp := r.post(t, c, "/api/admin/"+p, map[string]any{}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /api/admin/%s without a session: %s, want 401", p, resp.Status)
		}
	}
	// A made-up cookie is no session either.
	u := r.ts.URL + "/api/admin/state"
	req, _ := http.NewRequest("GET", u, nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "forged"})
	resp, err := r.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %s, want 401", resp.Status)
	}
	if got := r.backend.got(); len(got) != 0 {
		t.Errorf("the backend was called without a session: %q", got)
	}
}

func TestWrongCodesAreRateLimitedPerClient(t *testing.T) {
	r := newRig(t)
	c := r.client(t)
	for i := range TriesPerMinute {
		if resp := r.post(t, c, "/api/admin/login", map[string]string{"code": "no"}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong try %d: %s, want 401", i+1, resp.Status)
		}
	}
	resp := r.post(t, c, "/api/admin/login", map[string]string{"code": r.srv.Code()})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right code after %d wrong tries in a minute: %s (Retry-After %q), want 429", TriesPerMinute, resp.Status, resp.Header.Get("Retry-After"))
	}
	if !r.srv.LockedOut() {
		t.Error("LockedOut() = false during a lockout: the screen would not show it")
	}
	r.clock.add(61 * time.Second)
	if r.srv.LockedOut() {
		t.Error("LockedOut() still true a minute later")
	}
	if resp := r.post(t, c, "/api/admin/login", map[string]string{"code": r.srv.Code()}); resp.StatusCode != http.StatusNoContent {
		t.Errorf("right code a minute later: %s, want 204", resp.Status)
	}
}

// Many clients guessing together get a fresh code after a bounded number
// of wrong tries, so their tries do not add up against one code.
func TestManyWrongTriesRotateTheCode(t *testing.T) {
	u := NewUnlocker(func() time.Time { return time.Unix(0, 0) })
	first := u.Code()
	for i := range rotateAfterWrong {
		client := netip.AddrFrom4([4]byte{10, 42, 0, byte(10 + i)})
		if err := u.Try(client, "x"); err == nil {
			t.Fatal("a wrong code unlocked")
		}
	}
	if u.Code() == first {
		t.Errorf("the code survived %d wrong tries", rotateAfterWrong)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	r := newRig(t)
	c := r.login(t)
	for name, hdr := range map[string][2]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site", "same-site"},
		"foreign Origin":            {"Origin", "https://evil.example"},
	} {
		req, _ := http.NewRequest("POST", r.ts.URL+"/api/admin/reboot", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(hdr[0], hdr[1])
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", name, resp.Status)
		}
	}
	// A form post (what a cross-site page can send without a preflight).
	req, _ := http.NewRequest("POST", r.ts.URL+"/api/admin/reboot", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form post: %s, want 415", resp.Status)
	}
	if got := r.backend.got(); len(got) != 0 {
		t.Errorf("refused requests reached the backend: %q", got)
	}
}

func TestChangesReachTheBackendAndAreLoggedWithoutSecrets(t *testing.T) {
	r := newRig(t)
	c := r.login(t)
	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{"/api/admin/calls", settings.Calls{DefaultRoom: "stage", RoomCap: 4}, 204},
		{"/api/admin/calls", settings.Calls{DefaultRoom: "stage", RoomCap: 99}, 400},
		{"/api/admin/wifi", settings.WiFi{SSID: "Cafe", Passphrase: "sekrit-passphrase", Security: "wpa2", Country: "DE", Channel: 6}, 204},
		{"/api/admin/wifi", settings.WiFi{SSID: "Cafe", Security: "wpa2"}, 400},
		{"/api/admin/guests", settings.Guests{Source: "ethernet", VenueSSID: "Venue"}, 204},
		{"/api/admin/guests", settings.Guests{Source: "carrier-pigeon"}, 400},
		{"/api/admin/rooms/lock", map[string]any{"room": "stage", "locked": true}, 204},
		{"/api/admin/rooms/end", map[string]any{"room": "stage"}, 204},
		{"/api/admin/kick", map[string]any{"id": 7, "minutes": 10}, 204},
		{"/api/admin/kick", map[string]any{"id": 7, "minutes": 100000}, 400},
		{"/api/admin/restart", map[string]any{"service": "hotspot"}, 204},
		{"/api/admin/restart", map[string]any{"service": "sshd"}, 400},
		{"/api/admin/calls", map[string]any{"room_cap": 4, "extra": 1}, 400},
		{"/api/admin/reboot", map[string]any{}, 204},
	} {
		if resp := r.post(t, c, tc.path, tc.body); resp.StatusCode != tc.want {
			t.Errorf("POST %s %+v: %s, want %d", tc.path, tc.body, resp.Status, tc.want)
		}
	}
	want := []string{"calls stage 4", "wifi Cafe sekrit-passphrase", "guests ethernet", "lock stage true",
		"end stage", "kick 7 10m0s", "restart hotspot", "reboot"}
	if got := r.backend.got(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("backend calls %q\nwant %q", got, want)
	}
	logs := r.logs.String()
	if strings.Contains(logs, "sekrit") {
		t.Errorf("the passphrase reached the log:\n%s", logs)
	}
	for _, want := range []string{"what=\"set calls\"", "room_cap=4", "what=kick", "who=\"session "} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %s:\n%s", want, logs)
		}
	}
}

func TestBackendErrors(t *testing.T) {
	r := newRig(t)
	c := r.login(t)
	r.backend.err = &InputError{Msg: "channel 13 is not allowed in US"}
	if resp := r.post(t, c, "/api/admin/wifi", settings.WiFi{SSID: "x", Security: "open", Channel: 13}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("input error: %s, want 400", resp.Status)
	}
	r.backend.err = fmt.Errorf("hotspot control API: connection refused")
	if resp := r.post(t, c, "/api/admin/reboot", map[string]any{}); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("backend failure: %s, want 502", resp.Status)
	}
}

func TestBigBodyIsRefused(t *testing.T) {
	r := newRig(t)
	c := r.login(t)
	if resp := r.post(t, c, "/api/admin/calls", map[string]string{"default_room": strings.Repeat("x", maxBody)}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized body: %s, want 400", resp.Status)
	}
}

func TestSessionsAreBoundedAndExpire(t *testing.T) {
	r := newRig(t)
	first := r.login(t)
	for range maxSessions {
		r.login(t)
	}
	get := func(c *http.Client) int {
		resp, err := c.Get(r.ts.URL + "/api/admin/state")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(first); code != http.StatusUnauthorized {
		t.Errorf("the oldest of %d sessions still works: %d", maxSessions+1, code)
	}
	c := r.login(t)
	r.clock.add(sessionIdle - time.Second)
	if code := get(c); code != http.StatusOK {
		t.Errorf("session just under the idle limit: %d", code)
	}
	r.clock.add(sessionIdle)
	if code := get(c); code != http.StatusUnauthorized {
		t.Errorf("session idle for over an hour still works: %d", code)
	}
}
