package web

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// driver is what a test needs from one browser tab, whatever the engine:
// Chromium over CDP (chromedp) or Firefox over WebDriver BiDi.
type driver interface {
	// evalJSON evaluates a JavaScript expression in the page, awaits it if
	// it is a promise and returns its value JSON-encoded.
	evalJSON(ctx context.Context, expr string) (string, error)
	// kill closes the tab the way a guest closes it (the page may still
	// say bye from its pagehide handler).
	kill()
	// crash ends the page's process: no handler runs and nothing more is
	// sent, so only the hub can tell the others that it is gone.
	crash()
	// engine is "chromium" or "firefox".
	engine() string
}

// page is one tab of the app, driven only through JavaScript so the same
// test body runs in every engine.
type page struct {
	t    *testing.T
	name string
	drv  driver
}

// eval runs expr in the page and decodes its value into out (nil: ignored).
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	if err := p.try(expr, out); err != nil {
		p.t.Fatalf("%s (%s): %v", p.name, p.drv.engine(), err)
	}
}

// try is eval that returns the error.
func (p *page) try(expr string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wrapped := `(async () => JSON.stringify(await (` + expr + `)) ?? 'null')()`
	s, err := p.drv.evalJSON(ctx, wrapped)
	if err != nil {
		return fmt.Errorf("evaluate %q: %w", tail(expr, 200), err)
	}
	var raw string
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return fmt.Errorf("evaluate %q: result %q is not a JSON string: %w", tail(expr, 200), tail(s, 200), err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		return fmt.Errorf("evaluate %q: decode %q: %w", tail(expr, 200), tail(raw, 300), err)
	}
	return nil
}

type linkState struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Dialer bool   `json:"dialer"`
}

type member struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Cam  bool   `json:"cam"`
}

type appState struct {
	Hub          string      `json:"hub"`
	HubSessions  int         `json:"hubSessions"`
	SelfID       string      `json:"selfId"`
	Room         string      `json:"room"`
	InCall       bool        `json:"inCall"`
	Cam          bool        `json:"cam"`
	MicOn        bool        `json:"micOn"`
	Toast        string      `json:"toast"`
	Roster       []member    `json:"roster"`
	Links        []linkState `json:"links"`
	PCCreated    int         `json:"pcCreated"`
	Negotiations int         `json:"negotiations"`
	Chat         []struct {
		From string `json:"from"`
		Text string `json:"text"`
		Mine bool   `json:"mine"`
	} `json:"chat"`
	Tiles  []string `json:"tiles"`
	Notice string   `json:"notice"`
}

func (s appState) connectedLinks() int {
	n := 0
	for _, l := range s.Links {
		if l.State == "connected" {
			n++
		}
	}
	return n
}

func (s appState) rosterNames() []string {
	var out []string
	for _, m := range s.Roster {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

func (s appState) hasMember(id string) bool {
	return slices.ContainsFunc(s.Roster, func(m member) bool { return m.ID == id })
}

type peerStats struct {
	State         string  `json:"state"`
	FramesDecoded int     `json:"framesDecoded"`
	AudioPackets  int     `json:"audioPackets"`
	AudioLevel    float64 `json:"audioLevel"`
	Relay         bool    `json:"relay"`
}

func (p *page) state() appState {
	p.t.Helper()
	var s appState
	p.eval(`window.__kibitz ? window.__kibitz.state() : {}`, &s)
	return s
}

func (p *page) stats() map[string]peerStats {
	p.t.Helper()
	var s map[string]peerStats
	p.eval(`window.__kibitz.stats()`, &s)
	return s
}

// waitFor polls the app state until ok holds, failing after timeout.
func (p *page) waitFor(what string, timeout time.Duration, ok func(appState) bool) appState {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := p.state()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(s)
			var screen string
			p.eval(`(document.body.dataset.screen || 'loading') + ': ' + (document.querySelector('main > section:not([hidden])')?.innerText ?? '')`, &screen)
			p.t.Fatalf("%s (%s): %s did not happen within %v; state: %s; screen %q", p.name, p.drv.engine(), what, timeout, b, screen)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// waitJS polls a JavaScript condition until it is true.
func (p *page) waitJS(what string, timeout time.Duration, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		p.eval(`!!(`+cond+`)`, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s (%s): %s did not happen within %v", p.name, p.drv.engine(), what, timeout)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// visible is a JS condition: the element matching sel is shown.
func visible(sel string) string {
	return `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'; })()`
}

// click clicks the element matching sel (it must be shown).
func (p *page) click(sel string) {
	p.t.Helper()
	p.waitJS(sel+" shown", 10*time.Second, visible(sel))
	p.eval(`document.querySelector(`+strconv.Quote(sel)+`).click()`, nil)
}

// fill sets an input's value as typing would (an input event follows).
func (p *page) fill(sel, text string) {
	p.t.Helper()
	p.waitJS(sel+" shown", 10*time.Second, visible(sel))
	p.eval(`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); e.value = `+strconv.Quote(text)+`; e.dispatchEvent(new Event('input', {bubbles: true})); })()`, nil)
}

// The bounds below are for a machine shared with other builds and VMs:
// capturing a fake device can take seconds there.

// join types a name, presses Join and waits until the tab is in the call.
func (p *page) join() {
	p.t.Helper()
	p.waitFor("hub connection", 20*time.Second, func(s appState) bool { return s.Hub == "open" })
	p.waitJS("an enabled Join button", 10*time.Second, visible("#join")+` && !document.querySelector('#join').disabled`)
	p.fill("#name", p.name)
	p.click("#join")
	p.waitFor("joining", 20*time.Second, func(s appState) bool { return s.InCall })
}

// setCam presses the camera button and waits until the camera is on or off.
func (p *page) setCam(on bool) {
	p.t.Helper()
	p.waitJS("the camera button enabled", 10*time.Second, `!document.querySelector('#btn-cam').disabled`)
	p.click("#btn-cam")
	p.waitFor(fmt.Sprintf("own camera on=%v", on), 20*time.Second, func(s appState) bool { return s.Cam == on })
}

// setMic presses the mic button and waits until the mic is on or off.
func (p *page) setMic(on bool) {
	p.t.Helper()
	p.click("#btn-mic")
	p.waitFor(fmt.Sprintf("own mic on=%v", on), 20*time.Second, func(s appState) bool { return s.MicOn == on })
}

// say sends a chat line from the chat panel (opening it first).
func (p *page) say(text string) {
	p.t.Helper()
	var open bool
	p.eval(visible("#chat-input"), &open)
	if !open {
		p.click("#btn-chat")
	}
	p.fill("#chat-input", text)
	p.click("#chat-send")
}

// othersCam reports whether every roster member has the camera flag cam.
func othersCam(cam bool) func(appState) bool {
	return func(s appState) bool {
		if len(s.Roster) == 0 {
			return false
		}
		for _, m := range s.Roster {
			if m.Cam != cam {
				return false
			}
		}
		return true
	}
}

// meshOf waits until every page has a connected link to each of the others.
func meshOf(pages ...*page) {
	for _, p := range pages {
		p.t.Cleanup(func() {
			if p.t.Failed() {
				b, _ := json.Marshal(p.state())
				p.t.Logf("%s state: %s", p.name, b)
			}
		})
		p.waitFor(fmt.Sprintf("a full mesh of %d", len(pages)), 30*time.Second, func(s appState) bool {
			return len(s.Roster) == len(pages)-1 && len(s.Links) == len(pages)-1 && s.connectedLinks() == len(pages)-1 &&
				len(s.Tiles) == len(pages)
		})
	}
}

// setT points every page at the running (sub)test.
func setT(t *testing.T, pages ...*page) {
	for _, p := range pages {
		p.t = t
	}
}

// gone is a waitFor condition: the peer id has left the roster and its tile is gone.
func gone(id string, tiles int) func(appState) bool {
	return func(s appState) bool { return len(s.Tiles) == tiles && !s.hasMember(id) }
}

// text is the visible text of the element matching sel (waiting for it).
func (p *page) text(sel string) string {
	p.t.Helper()
	p.waitJS(sel+" shown", 15*time.Second, visible(sel))
	var s string
	p.eval(`document.querySelector(`+strconv.Quote(sel)+`).innerText`, &s)
	return s
}

// mediaFlows checks that p decodes video frames and receives audio from
// every other participant over TURN, and that both keep increasing.
func mediaFlows(p *page, peers int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	first := p.stats()
	for {
		time.Sleep(time.Second)
		now := p.stats()
		ok := len(now) == peers
		for id, s := range now {
			before := first[id]
			if s.FramesDecoded <= before.FramesDecoded || s.AudioPackets <= before.AudioPackets || s.FramesDecoded < 10 || !s.Relay {
				ok = false
			}
		}
		if ok {
			p.t.Logf("%s receives: %+v", p.name, now)
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: video frames/audio packets from %d peers over TURN did not keep arriving: before %+v, now %+v", p.name, peers, first, now)
		}
		first = now
	}
}
