package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// adminRoutes are every route of the operator API (internal/admin).
var adminRoutes = []struct{ method, path string }{
	{"POST", "login"}, {"POST", "logout"}, {"GET", "state"}, {"POST", "calls"}, {"POST", "wifi"},
	{"POST", "guests"}, {"POST", "rooms/lock"}, {"POST", "rooms/end"}, {"POST", "kick"},
	{"POST", "reboot"}, {"POST", "restart"},
}

// operatorStatus is what the box's screen reads from the hub's loopback status.
type operatorStatus struct {
	Code    string `json:"operator_code"`
	Lockout bool   `json:"operator_lockout"`
}

// operatorStatus reads the operator fields of the hub's loopback /status.
func (h *hubProcess) operatorStatus() operatorStatus {
	h.t.Helper()
	addr := ""
	for i, a := range h.args {
		if a == "--status" && i+1 < len(h.args) {
			addr = h.args[i+1]
		}
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/status")
	if err != nil {
		h.t.Fatalf("GET the hub's /status: %v", err)
	}
	defer resp.Body.Close()
	var st operatorStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatalf("decode the hub's /status: %v", err)
	}
	return st
}

// TestBrowserOperatorPage drives the operator page (/admin) on an
// emulated phone against the real hub: the API refuses callers without a
// session, the code from the box's screen unlocks the page, wrong codes
// are refused and then rate limited, and the room cap, a room lock and a
// kick made on the page act on real guest pages. Screenshots go to docs/
// with KIBITZBOX_WRITE_SCREENSHOT=1.
func TestBrowserOperatorPage(t *testing.T) {
	hub := startHub(t, 8)
	// Restart it with a Wi-Fi section in the settings file (what the Wi-Fi
	// card shows) and a hotspot address nobody listens on: this test talks
	// to no hotspot that may run on the machine.
	hub.stop()
	wifi := settings.WiFi{SSID: "Kibitz Box", Passphrase: "harbor7lantern", Security: settings.SecurityWPA2, Country: "DE", Channel: 6}
	if err := settings.Save(settings.Path(hub.state), settings.Settings{WiFi: &wifi}); err != nil {
		t.Fatal(err)
	}
	hub.args = append(hub.args, "--hotspot-status", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")))
	hub.start()

	b := newChromium(t, fakeMedia...)
	tab := b.newTab(t, "operator")
	adm := &page{t: t, name: "operator", drv: tab}
	tab.run(t, chromedp.Emulate(emulated(phones[0].info)), chromedp.Navigate(hub.url+"admin"))
	t.Cleanup(func() {
		if t.Failed() {
			var screen string
			if adm.try(`JSON.stringify({banner: document.querySelector('#banner').outerHTML, cap: document.querySelector('#calls-cap').value, ssid: document.querySelector('#wifi-ssid').value, text: document.body.innerText})`, &screen) == nil {
				t.Logf("operator page: %s", tail(screen, 3000))
			}
		}
	})
	adm.waitJS("the code form", 15*time.Second, visible("#code")+` && `+"!"+visible("#panel"))

	shot := func(t *testing.T, name, sel string) {
		t.Helper()
		adm.eval(`document.querySelector(`+strconv.Quote(sel)+`).scrollIntoView({block: 'start'})`, nil)
		var problems []string
		adm.eval(layoutProblems, &problems)
		for _, pr := range problems {
			t.Errorf("operator page on a phone, %s: %s", name, pr)
		}
		png := value(t, tab, chromedp.CaptureScreenshot())
		dir := t.TempDir()
		if os.Getenv("KIBITZBOX_WRITE_SCREENSHOT") != "" {
			dir = filepath.Join("..", "..", "docs")
		}
		out := filepath.Join(dir, "operator-"+name+".png")
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s (%d bytes)", name, out, len(png))
	}

	// tryCode types code into the page's unlock form and returns what the
	// page says: "" when it unlocked, else the message under the form.
	tryCode := func(code string) string {
		adm.t.Helper()
		adm.eval(`(() => { const m = document.querySelector('#unlock-msg'); m.textContent = ''; })()`, nil)
		adm.fill("#code", code)
		adm.click("#unlock-btn")
		adm.waitJS("an answer to the code", 10*time.Second,
			`(`+visible("#panel")+` && !`+visible("#unlock")+`) || (`+visible("#unlock-msg")+` && document.querySelector('#unlock-msg').textContent !== '')`)
		var msg string
		adm.eval(visible("#panel")+` ? '' : document.querySelector('#unlock-msg').textContent`, &msg)
		return msg
	}
	// wrongCode is a 6-digit code that is not the current one.
	wrongCode := func() string {
		c := []byte(hub.operatorStatus().Code)
		if len(c) != 6 {
			adm.t.Fatalf("operator code in /status is %q, want 6 digits", c)
		}
		c[0] = '0' + (c[0]-'0'+1)%10
		return string(c)
	}

	t.Run("the API refuses every call without a session", func(t *testing.T) {
		setT(t, adm)
		client := insecureClient(5 * time.Second)
		for _, cookie := range []string{"", "forged-session-token"} {
			for _, r := range adminRoutes {
				req, err := http.NewRequest(r.method, hub.url+"api/admin/"+r.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.method == "POST" {
					req.Body = io.NopCloser(strings.NewReader(`{}`))
					req.Header.Set("Content-Type", "application/json")
				}
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: "kibitzbox_admin", Value: cookie})
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s /api/admin/%s: %v", r.method, r.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				// login needs no session but a code: an empty one is wrong.
				want := "not unlocked"
				if r.path == "login" {
					want = "wrong code"
				}
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), want) {
					t.Errorf("%s /api/admin/%s (cookie %q): %d %s, want 401 %q", r.method, r.path, cookie, resp.StatusCode, body, want)
				}
			}
		}
	})

	t.Run("screenshot of the locked page", func(t *testing.T) {
		setT(t, adm)
		shot(t, "locked", "body")
	})

	t.Run("a wrong code is refused on the page", func(t *testing.T) {
		setT(t, adm)
		before := hub.operatorStatus().Code
		msg := tryCode(wrongCode())
		if !strings.Contains(msg, "wrong code") {
			t.Errorf("after a wrong code the page says %q, want a wrong-code message", msg)
		}
		if after := hub.operatorStatus().Code; after != before {
			t.Errorf("a wrong code changed the operator code %s→%s", before, after)
		}
	})

	t.Run("the code from the screen unlocks the page, then rotates", func(t *testing.T) {
		setT(t, adm)
		code := hub.operatorStatus().Code
		if msg := tryCode(code); msg != "" {
			t.Fatalf("the code %s from /status did not unlock the page: %q", code, msg)
		}
		// The state the hub reports: its room cap flag, the Wi-Fi settings file.
		adm.waitJS("the state in the cards", 10*time.Second,
			`document.querySelector('#calls-cap').value === '8' && document.querySelector('#wifi-ssid').value === 'Kibitz Box' && document.querySelector('#box').innerText.includes('Version')`)
		after := hub.operatorStatus().Code
		if after == code || len(after) != 6 {
			t.Errorf("the operator code after an unlock is %q, want a new 6-digit code (was %s)", after, code)
		}
		shot(t, "wifi", "#wifi-card")
	})

	t.Run("the guests card saves Ethernet mode", func(t *testing.T) {
		setT(t, adm)
		adm.waitJS("the guests card with the default source", 10*time.Second,
			visible("#guests-card")+` && document.querySelector('#guests-source').value === 'wifi'`)
		adm.eval(`(() => { const s = document.querySelector('#guests-source'); s.value = 'ethernet'; s.dispatchEvent(new Event('input', {bubbles: true})); })()`, nil)
		adm.fill("#guests-venue-ssid", "Cafe Venue")
		adm.fill("#guests-venue-pass", "espresso-42")
		adm.click("#guests-form button[type=submit]")
		adm.waitJS("the saved banner", 10*time.Second, visible("#banner")+` && document.querySelector('#banner').textContent.includes('Saved')`)
		got := settings.Load(settings.Path(hub.state), slog.New(slog.DiscardHandler)).Guests
		if want := (settings.Guests{Source: settings.SourceEthernet, VenueSSID: "Cafe Venue", VenuePassphrase: "espresso-42"}); got == nil || *got != want {
			t.Errorf("settings file's guests after saving on the page: %+v, want %+v", got, want)
		}
		// The page shows what the hub now reports.
		adm.waitJS("the saved source in the card", 10*time.Second,
			`document.querySelector('#guests-source').value === 'ethernet' && document.querySelector('#guests-venue-ssid').value === 'Cafe Venue'`)
		shot(t, "guests", "#guests-card")
	})

	var ada, bo *page
	top := t // Ada's and Bo's tabs live on into the next subtests
	t.Run("the room cap set on the page holds in the call app", func(t *testing.T) {
		setT(t, adm)
		adm.fill("#calls-cap", "2")
		adm.click("#calls-form button[type=submit]")
		adm.waitJS("the saved banner", 10*time.Second, visible("#banner")+` && document.querySelector('#banner').textContent.includes('Call settings saved')`)
		if j := hub.join(); j.RoomCap != 2 {
			t.Fatalf("/api/join says room_cap %d after saving 2 on the page", j.RoomCap)
		}
		room := hub.url + "#capped"
		ada = b.open(top, "Ada", room)
		bo = b.open(top, "Bo", room)
		setT(t, ada, bo)
		ada.join()
		bo.join() // the second is admitted
		meshOf(ada, bo)
		cy := b.open(t, "Cy", room)
		cy.waitFor("the room-full message", 15*time.Second, func(s appState) bool {
			return len(s.Roster) == 2 && s.Hub == "open" && s.Notice == "full"
		})
		cy.click("#join")
		time.Sleep(time.Second)
		if s := cy.state(); s.InCall || s.Notice != "full" {
			t.Errorf("the third guest after Join in a room capped at 2: in call %v, notice %q", s.InCall, s.Notice)
		}
		cy.drv.kill()
		adm.waitJS("Ada and Bo listed in #capped", 10*time.Second,
			`(() => { const r = document.querySelector('#rooms [data-room="capped"]'); return !!r && r.innerText.includes('Ada') && r.innerText.includes('Bo'); })()`)
		shot(t, "calls", "#calls-card")
	})
	if ada == nil || bo == nil || t.Failed() {
		return
	}

	t.Run("a room locked on the page refuses new guests", func(t *testing.T) {
		setT(t, adm, ada, bo)
		adm.eval(`[...document.querySelectorAll('#rooms [data-room="capped"] button')].find((b) => b.textContent === 'Lock room').click()`, nil)
		adm.waitJS("#capped shown locked", 10*time.Second,
			`(() => { const r = document.querySelector('#rooms [data-room="capped"] strong'); return !!r && r.textContent.includes('locked'); })()`)
		di := b.open(t, "Di", hub.url+"#capped")
		di.waitFor("the room-locked message", 15*time.Second, func(s appState) bool { return s.Notice == "locked" })
		// The camera preview often starts after the refusal: the message stays.
		di.waitJS("Di's camera preview", 15*time.Second, `!!document.querySelector('#preview').srcObject`)
		if s := di.state(); s.Notice != "locked" {
			t.Errorf("Di's room-locked message was replaced by %q once the camera preview started", s.Notice)
		}
		if s := di.state(); len(s.Roster) != 0 {
			t.Errorf("Di, refused by the locked room, sees %v", s.rosterNames())
		}
		if text := di.text("#prejoin-notice"); !strings.Contains(text, "locked") {
			t.Errorf("the locked message says %q", text)
		}
		di.drv.kill()
		for _, p := range []*page{ada, bo} {
			if s := p.state(); !s.InCall || len(s.Roster) != 1 || s.connectedLinks() != 1 {
				t.Errorf("%s, inside the room when it was locked: in call %v, roster %v, links %+v", p.name, s.InCall, s.rosterNames(), s.Links)
			}
		}
	})

	t.Run("a guest kicked on the page leaves the call", func(t *testing.T) {
		setT(t, adm, ada, bo)
		boID := bo.state().SelfID
		// The page asks before kicking: the operator says yes.
		adm.eval(`(() => { window.__asked = []; window.confirm = (q) => { window.__asked.push(q); return true; }; })()`, nil)
		adm.waitJS("Bo's Kick button", 10*time.Second, `!!document.querySelector('#rooms [data-member="`+boID+`"] button')`)
		adm.eval(`document.querySelector('#rooms [data-member="`+boID+`"] button').click()`, nil)
		var asked []string
		adm.eval(`window.__asked`, &asked)
		if len(asked) != 1 || !strings.Contains(asked[0], "Bo") {
			t.Errorf("the page asked %q before kicking Bo", asked)
		}
		bo.waitJS("Bo's removed message", 10*time.Second,
			`document.body.dataset.screen === 'fatal' && document.querySelector('#fatal-notice').dataset.kind === 'kicked'`)
		ada.waitFor("Bo's tile gone", 10*time.Second, gone(boID, 1))
		adm.waitJS("Bo gone from the page's room list", 10*time.Second, `!document.querySelector('#rooms [data-member="`+boID+`"]')`)
	})

	t.Run("after 5 wrong codes the page is rate limited", func(t *testing.T) {
		setT(t, adm)
		adm.click("#logout")
		adm.waitJS("the code form after Lock", 10*time.Second, visible("#code")+` && !`+visible("#panel"))
		var status int
		adm.eval(`fetch('/api/admin/state').then((r) => r.status)`, &status)
		if status != http.StatusUnauthorized {
			t.Errorf("GET /api/admin/state after Lock: %d, want 401", status)
		}
		if hub.operatorStatus().Lockout {
			t.Fatal("/status reports a lockout before any wrong code")
		}
		for i := 1; i <= 5; i++ {
			if msg := tryCode(wrongCode()); !strings.Contains(msg, "wrong code") {
				t.Errorf("wrong code %d of 5: the page says %q, want a wrong-code message", i, msg)
			}
		}
		if hub.operatorStatus().Lockout {
			t.Error("/status reports a lockout after 5 tries, before any was refused")
		}
		if msg := tryCode(wrongCode()); !strings.Contains(msg, "too many tries") {
			t.Errorf("the 6th code within a minute: the page says %q, want a too-many-tries message", msg)
		}
		if !hub.operatorStatus().Lockout {
			t.Error("/status (the screen's operator_lockout) does not report the lockout")
		}
		// Even the right code waits now.
		if msg := tryCode(hub.operatorStatus().Code); !strings.Contains(msg, "too many tries") {
			t.Errorf("the right code while rate limited: the page says %q, want a too-many-tries message", msg)
		}
	})
}
