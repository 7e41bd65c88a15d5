package web

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// browserKinds open a page in one engine each; every mixed test runs over
// every ordered pair, so each engine dials and answers.
var browserKinds = map[string]func(t *testing.T, name, url string) *page{
	"chromium": openChromium,
	"firefox":  openFirefox,
}

// TestBrowserMixedCall puts a Chromium guest and a Firefox guest in one
// call, each browser dialling in turn: a fresh hub hands out ids 1 and 2
// in the order the pages connect, and the smaller id (as a string) dials.
func TestBrowserMixedCall(t *testing.T) {
	for _, order := range [][2]string{{"chromium", "firefox"}, {"firefox", "chromium"}} {
		t.Run(order[0]+" dials "+order[1], func(t *testing.T) {
			mixedCall(t, order[0], order[1])
		})
	}
}

func mixedCall(t *testing.T, dialer, answerer string) {
	hub := startHub(t, 8)
	room := hub.url + "#mixed"
	a := browserKinds[dialer](t, "A-"+dialer, room)
	a.waitFor("hub connection", 20*time.Second, func(s appState) bool { return s.Hub == "open" })
	b := browserKinds[answerer](t, "B-"+answerer, room)
	a.join()
	b.join()
	meshOf(a, b)
	if s := a.state(); len(s.Links) != 1 || !s.Links[0].Dialer {
		t.Fatalf("%s (id %s) should have dialled %s (id %s): links %+v", a.name, s.SelfID, b.name, b.state().SelfID, s.Links)
	}

	setT(t, a, b)
	t.Run("video and audio both ways over relay/relay", func(t *testing.T) {
		setT(t, a, b)
		for _, p := range []*page{a, b} {
			p.setCam(true)
			p.setMic(true)
		}
		a.waitFor("the other camera flag", 10*time.Second, othersCam(true))
		b.waitFor("the other camera flag", 10*time.Second, othersCam(true))
		seesAndHears(a, b)
		seesAndHears(b, a)
	})

	t.Run("chat both ways", func(t *testing.T) {
		setT(t, a, b)
		a.say("hello from " + dialer)
		b.waitFor("the chat line", 10*time.Second, func(s appState) bool {
			return len(s.Chat) == 1 && s.Chat[0].Text == "hello from "+dialer && !s.Chat[0].Mine
		})
		b.say("hello from " + answerer)
		a.waitFor("the chat line", 10*time.Second, func(s appState) bool {
			return len(s.Chat) == 2 && s.Chat[1].Text == "hello from "+answerer
		})
	})

	t.Run("camera and mic toggles without renegotiation", func(t *testing.T) {
		setT(t, a, b)
		before := map[*page]appState{a: a.state(), b: b.state()}
		for _, p := range []*page{a, b} {
			other := b
			if p == b {
				other = a
			}
			id := p.state().SelfID
			w, h := cameraSize(p)
			p.setCam(false)
			p.setMic(false)
			if ok, detail := videoCheck(other, id, 0, 0, 10*time.Second); !ok {
				t.Errorf("%s's camera off: %s", p.name, detail)
			}
			if ok, detail := silentCheck(other, id); !ok {
				t.Errorf("%s muted: %s", p.name, detail)
			}
			p.setCam(true)
			p.setMic(true)
			if ok, detail := videoCheck(other, id, w, h, 20*time.Second); !ok {
				t.Errorf("%s's camera back on: %s", p.name, detail)
			}
			if ok, detail := hearsCheck(other, id, 15*time.Second); !ok {
				t.Errorf("%s unmuted: %s", p.name, detail)
			}
		}
		for _, p := range []*page{a, b} {
			s, was := p.state(), before[p]
			if s.PCCreated != was.PCCreated || s.Negotiations != was.Negotiations {
				t.Errorf("%s: the toggles made %d new peer connections and %d negotiations",
					p.name, s.PCCreated-was.PCCreated, s.Negotiations-was.Negotiations)
			}
		}
	})

	t.Run("a hub restart heals the call", func(t *testing.T) {
		setT(t, a, b)
		sessions := map[*page]int{a: a.state().HubSessions, b: b.state().HubSessions}
		hub.stop()
		hub.start()
		for _, p := range []*page{a, b} {
			p.waitFor("a new hub session", 15*time.Second, func(s appState) bool { return s.HubSessions > sessions[p] && s.Hub == "open" })
		}
		meshOf(a, b)
		seesAndHears(a, b)
		seesAndHears(b, a)
	})

	t.Run("leave", func(t *testing.T) {
		setT(t, a, b)
		id := b.state().SelfID
		b.click("#btn-leave")
		a.waitFor(b.name+" gone after Leave", 5*time.Second, gone(id, 1))
		b.join()
		meshOf(a, b)
	})

	t.Run("a killed tab leaves within 5 s", func(t *testing.T) {
		setT(t, a, b)
		id := b.state().SelfID
		killed := time.Now()
		b.drv.crash()
		a.waitFor(fmt.Sprintf("%s (%s) gone after its tab was killed", b.name, answerer), 5*time.Second-time.Since(killed), gone(id, 1))
		t.Logf("%s was gone from %s %v after its tab was killed", b.name, a.name, time.Since(killed).Round(10*time.Millisecond))
		// A killed page sends nothing, and 5 s is sooner than the 8 s
		// beacon reaping: the bye came from the hub, which closed the
		// session for silence.
		if reason := hub.closedFor(id); !strings.HasPrefix(reason, "no packet") {
			t.Errorf("the hub's reason for closing %s's session: %q, want silence (no packet for …)", b.name, reason)
		}
	})
}
