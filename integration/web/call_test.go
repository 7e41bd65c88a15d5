package web

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// The call tests: several chromium tabs in one call through the hub.

func TestBrowserCall(t *testing.T) {
	hub := startHub(t, 8)
	b := newChromium(t, fakeMedia...)
	room := hub.url + "#Team Sync"

	ada := b.open(t, "Ada", room)
	bo := b.open(t, "Bo", room)
	if s := ada.state(); s.Room != "team-sync" {
		t.Fatalf("room from the hash %q: got %q, want team-sync", "#Team Sync", s.Room)
	}
	ada.join()
	bo.join()

	t.Run("two pages see and hear each other", func(t *testing.T) {
		setT(t, ada, bo)
		meshOf(ada, bo)
		for _, tb := range []*page{ada, bo} {
			s := tb.state()
			if s.PCCreated > 2 {
				t.Errorf("%s made %d media connections for one peer", tb.name, s.PCCreated)
			}
		}
		ada.setCam(true)
		bo.setCam(true)
		ada.setMic(true)
		bo.setMic(true)
		ada.waitFor("Bo's camera flag", 10*time.Second, othersCam(true))
		bo.waitFor("Ada's camera flag", 10*time.Second, othersCam(true))
		mediaFlows(ada, 1)
		mediaFlows(bo, 1)
		seesAndHears(ada, bo)
		seesAndHears(bo, ada)
	})

	t.Run("the media checks fail when the mic is muted or the camera off", func(t *testing.T) {
		setT(t, ada, bo)
		adaID := ada.state().SelfID
		w, h := cameraSize(ada)
		ada.setMic(false)
		if ok, detail := silentCheck(bo, adaID); !ok {
			t.Errorf("Ada muted: %s", detail)
		}
		if ok, detail := hearsCheck(bo, adaID, 5*time.Second); ok {
			t.Errorf("the audio check passes with Ada muted: %s", detail)
		} else {
			t.Logf("Ada muted, the audio check fails as it must: %s", detail)
		}
		ada.setCam(false)
		if ok, detail := videoCheck(bo, adaID, w, h, 5*time.Second); ok {
			t.Errorf("the video check passes with Ada's camera off: %s", detail)
		} else {
			t.Logf("Ada's camera off, the video check fails as it must: %s", detail)
		}
		if ok, detail := videoCheck(bo, adaID, 0, 0, 10*time.Second); !ok {
			t.Errorf("Ada's camera off: %s", detail)
		}
		ada.setMic(true)
		ada.setCam(true)
		seesAndHears(bo, ada)
	})

	t.Run("chat line arrives", func(t *testing.T) {
		setT(t, ada, bo)
		ada.say("Hi Bo, can you hear me?")
		s := bo.waitFor("Ada's chat line", 10*time.Second, func(s appState) bool {
			return len(s.Chat) == 1 && s.Chat[0].Text == "Hi Bo, can you hear me?" && !s.Chat[0].Mine
		})
		if s.Chat[0].From != ada.state().SelfID {
			t.Errorf("chat line from %q, want Ada's id %q", s.Chat[0].From, ada.state().SelfID)
		}
		bo.say("Loud and clear!")
		ada.waitFor("Bo's chat line", 10*time.Second, func(s appState) bool { return len(s.Chat) == 2 && s.Chat[1].Text == "Loud and clear!" })
		bo.click("#btn-chat")
	})

	t.Run("screenshot", func(t *testing.T) {
		ada.t = t
		time.Sleep(1500 * time.Millisecond) // let the fake camera frames settle in both tiles
		png := value(t, cdpTab(ada), chromedp.CaptureScreenshot())
		if len(png) < 20000 {
			t.Fatalf("screenshot is only %d bytes", len(png))
		}
		out := filepath.Join(t.TempDir(), "screenshot-call.png")
		if os.Getenv("KIBITZBOX_WRITE_SCREENSHOT") != "" {
			out = filepath.Join("..", "..", "docs", "screenshot-call.png")
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
		ada.click("#btn-chat")
	})

	t.Run("camera toggles never re-dial", func(t *testing.T) {
		setT(t, ada, bo)
		before := map[string]appState{"Ada": ada.state(), "Bo": bo.state()}
		for i := 0; i < 3; i++ {
			ada.setCam(false)
			bo.waitFor("Ada's camera off", 10*time.Second, othersCam(false))
			ada.setCam(true)
			bo.waitFor("Ada's camera on", 10*time.Second, othersCam(true))
		}
		for _, tb := range []*page{ada, bo} {
			s := tb.state()
			was := before[tb.name]
			if s.PCCreated != was.PCCreated || s.Negotiations != was.Negotiations {
				t.Errorf("%s: toggling the camera made %d new peer connections and %d negotiations",
					tb.name, s.PCCreated-was.PCCreated, s.Negotiations-was.Negotiations)
			}
			if s.connectedLinks() != 1 {
				t.Errorf("%s: links after toggling: %+v", tb.name, s.Links)
			}
		}
		mediaFlows(bo, 1) // Ada's camera frames still arrive after the swaps
	})

	t.Run("screen share rides the third lane", func(t *testing.T) {
		setT(t, ada, bo)
		before := map[string]appState{"Ada": ada.state(), "Bo": bo.state()}
		adaID := before["Ada"].SelfID
		screenWidth := `(() => { const v = document.querySelector('#grid .tile.screen video'); return v ? v.videoWidth : 0; })()`
		ada.click("#btn-screen")
		bo.waitFor("Ada's screen tile", 10*time.Second, func(s appState) bool { return slices.Contains(s.Tiles, adaID+":screen") })
		deadline := time.Now().Add(10 * time.Second)
		for w := 0; w <= 16; bo.eval(screenWidth, &w) {
			if time.Now().After(deadline) {
				t.Fatal("Bo's screen tile shows no picture from Ada's screen lane")
			}
			time.Sleep(200 * time.Millisecond)
		}
		ada.click("#btn-screen")
		bo.waitFor("Ada's screen tile gone", 10*time.Second, func(s appState) bool { return !slices.Contains(s.Tiles, adaID+":screen") })
		for _, tb := range []*page{ada, bo} {
			s, was := tb.state(), before[tb.name]
			if s.PCCreated != was.PCCreated || s.Negotiations != was.Negotiations {
				t.Errorf("%s: sharing the screen made %d new peer connections and %d negotiations",
					tb.name, s.PCCreated-was.PCCreated, s.Negotiations-was.Negotiations)
			}
		}
	})

	t.Run("three pages form a full mesh", func(t *testing.T) {
		setT(t, ada, bo)
		cy := b.open(t, "Cy", room)
		cy.join()
		meshOf(ada, bo, cy)
		cy.setCam(true)
		mediaFlows(cy, 2)

		// Crash-like: the tab's target is closed, no Leave button.
		cyID := cy.state().SelfID
		closed := time.Now()
		cy.drv.kill()
		for _, tb := range []*page{ada, bo} {
			tb.waitFor("Cy's tile removed", 5*time.Second-time.Since(closed), gone(cyID, 2))
		}
		t.Logf("Cy's tile was gone on both pages %v after closing its tab", time.Since(closed).Round(10*time.Millisecond))
	})

	t.Run("rooms are separate", func(t *testing.T) {
		setT(t, ada, bo)
		di := b.open(t, "Di", hub.url+"#another-room")
		di.join()
		// Presence beacons go out every 2.5 s: after three of them nobody
		// from the other room may have shown up on either side.
		deadline := time.Now().Add(7500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if s := di.state(); len(s.Roster) != 0 || len(s.Links) != 0 {
				t.Fatalf("Di in another room sees %v, links %+v", s.rosterNames(), s.Links)
			}
			for _, tb := range []*page{ada, bo} {
				if s := tb.state(); len(s.Roster) != 1 {
					t.Fatalf("%s sees %v, want only the other one", tb.name, s.rosterNames())
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		di.drv.kill()
	})

	t.Run("a stalled hub costs no reconnect", func(t *testing.T) {
		setT(t, ada, bo)
		before := map[string]appState{"Ada": ada.state(), "Bo": bo.state()}
		// Longer than the app's 1 s suspicion, shorter than its 4 s limit:
		// the stand-by session must be dropped once the old one answers.
		if err := hub.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if err := hub.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		for _, tb := range []*page{ada, bo} {
			s, was := tb.state(), before[tb.name]
			if s.HubSessions != was.HubSessions || s.SelfID != was.SelfID || s.PCCreated != was.PCCreated || s.Hub != "open" {
				t.Errorf("%s after a 1.5 s hub stall: hub %s, sessions %d→%d, id %s→%s, peer connections %d→%d",
					tb.name, s.Hub, was.HubSessions, s.HubSessions, was.SelfID, s.SelfID, was.PCCreated, s.PCCreated)
			}
		}
	})

	t.Run("hub restart heals the call", func(t *testing.T) {
		setT(t, ada, bo)
		sessions := ada.state().HubSessions
		killed := time.Now()
		hub.stop()
		hub.start()
		restarted := time.Now()
		for _, tb := range []*page{ada, bo} {
			tb.waitFor("a new hub session", 10*time.Second, func(s appState) bool { return s.HubSessions > sessions && s.Hub == "open" })
		}
		t.Logf("both pages were back on the hub %v after it answered again (%v after it was killed)",
			time.Since(restarted).Round(10*time.Millisecond), time.Since(killed).Round(10*time.Millisecond))
		meshOf(ada, bo)
		mediaFlows(ada, 1)
	})
}

type kibitzState struct {
	Self   string `json:"self"`
	Roster map[string]struct {
		Name string `json:"name"`
		Cam  bool   `json:"cam"`
	} `json:"roster"`
	Chat []struct {
		From string `json:"from"`
		Text string `json:"text"`
	} `json:"chat"`
	Stats map[string]struct {
		State  string `json:"state"`
		Frames int    `json:"frames"`
	} `json:"stats"`
}

// TestBrowserKibitzPeer puts the stand-in Kibitz client
// (testdata/kibitz-standin.js, written from docs/protocol.md and sharing
// no code with the app) and the app in one room.
func TestBrowserKibitzPeer(t *testing.T) {
	hub := startHub(t, 8)
	b := newChromium(t, fakeMedia...)
	// The stand-in runs in a page of its own; it needs only a secure
	// context and WebRTC, nothing the app serves but the blob.
	kz := b.open(t, "kibitz stand-in", hub.url+"api/join")
	src, err := os.ReadFile(filepath.Join("testdata", "kibitz-standin.js"))
	if err != nil {
		t.Fatal(err)
	}
	kz.eval(`(() => { `+string(src)+`; return true; })()`, nil)
	var got string
	if kz.eval(`window.kibitzStandin(`+strconv.Quote(hub.join().Blob)+`, "mixed")`, &got); got != "started" {
		t.Fatalf("the Kibitz stand-in did not start: %q", got)
	}
	kzState := func() (s kibitzState) { kz.eval(`window.kz`, &s); return s }
	deadline := time.Now().Add(10 * time.Second)
	for kzState().Self == "" {
		if time.Now().After(deadline) {
			t.Fatal("the Kibitz stand-in got no hub id")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The app joins second, so it has the higher id and answers the
	// Kibitz peer's offer (the app dialing is what the other tests cover).
	zed := b.open(t, "Zed", hub.url+"#Mixed")
	zed.join()
	zed.setCam(true)
	s := zed.waitFor("the Kibitz peer in the roster with its camera on", 15*time.Second, func(s appState) bool {
		return len(s.Roster) == 1 && s.Roster[0].Name == "Kibitz Kim" && s.Roster[0].Cam && s.connectedLinks() == 1
	})
	if s.Links[0].Dialer {
		t.Logf("ids: kibitz %s, app %s: the app dialed", kzState().Self, s.SelfID)
	}
	mediaFlows(zed, 1)
	var kzs kibitzState
	deadline = time.Now().Add(15 * time.Second)
	for {
		kzs = kzState()
		st := kzs.Stats[s.SelfID]
		if kzs.Roster[s.SelfID].Name == "Zed" && kzs.Roster[s.SelfID].Cam && st.State == "connected" && st.Frames > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Kibitz peer does not see Zed with video: %+v", kzs)
		}
		time.Sleep(200 * time.Millisecond)
	}

	kz.eval(`window.kz.say('hello from kibitz')`, nil)
	zed.waitFor("the Kibitz peer's chat line", 10*time.Second, func(s appState) bool {
		return len(s.Chat) == 1 && s.Chat[0].Text == "hello from kibitz" && s.Chat[0].From == kzs.Self
	})
	zed.say("hi Kim")
	deadline = time.Now().Add(10 * time.Second)
	for {
		kzs = kzState()
		if len(kzs.Chat) == 1 && kzs.Chat[0].Text == "hi Kim" && kzs.Chat[0].From == s.SelfID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Kibitz peer did not get Zed's chat line: %+v", kzs.Chat)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var tile string
	zed.eval(`document.querySelector('#grid .tile[data-id="`+kzs.Self+`"] .avatar').textContent`, &tile)
	if tile != "🦊" {
		t.Errorf("the Kibitz peer's avatar shows %q, want its emoji", tile)
	}

	// Leaving: the stand-in gets the app's bye and drops Zed.
	zed.click("#btn-leave")
	deadline = time.Now().Add(5 * time.Second)
	for {
		var left struct {
			Byes   []string       `json:"byes"`
			Roster map[string]any `json:"roster"`
		}
		kz.eval(`window.kz`, &left)
		if slices.Contains(left.Byes, s.SelfID) && left.Roster[s.SelfID] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Kibitz stand-in did not get Zed's bye: %+v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserMessages checks that failures show a message, not a blank page.
func TestBrowserMessages(t *testing.T) {
	hub := startHub(t, 1)

	t.Run("camera refused", func(t *testing.T) {
		// No fake UI: every permission prompt is denied.
		b := newChromium(t, chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("deny-permission-prompts", true))
		tb := b.open(t, "Eve", hub.url+"#refused")
		tb.waitFor("the camera-blocked message", 15*time.Second, func(s appState) bool { return s.Notice == "denied" })
		text := tb.text("#prejoin-notice")
		if !strings.Contains(text, "blocked") || !strings.Contains(text, "allow") {
			t.Errorf("camera-refused message %q does not say what happened and what to do", text)
		}
		// Joining still works: listen and chat without a camera.
		tb.join()
	})

	b := newChromium(t, fakeMedia...)
	t.Run("room full", func(t *testing.T) {
		first := b.open(t, "First", hub.url+"#tiny")
		first.join()
		second := b.open(t, "Second", hub.url+"#tiny")
		second.waitFor("the room-full message before joining", 15*time.Second, func(s appState) bool {
			return len(s.Roster) == 1 && s.Hub == "open" && s.Notice == "full"
		})
		second.click("#join")
		time.Sleep(time.Second)
		if s := second.state(); s.InCall || s.Notice != "full" {
			t.Errorf("after Join in a full room: in call %v, notice %q", s.InCall, s.Notice)
		}
		// A seat frees up: the message goes away and joining works.
		first.click("#btn-leave")
		second.waitFor("the room-full message gone", 10*time.Second, func(s appState) bool { return len(s.Roster) == 0 && s.Notice != "full" })
		second.join()
	})

	t.Run("protocol rules match the Go side", func(t *testing.T) {
		tb := b.open(t, "rules", hub.url+"#rules")
		blob := hub.join().Blob
		gb, err := galaxy.ParseBlob(blob)
		if err != nil {
			t.Fatalf("the hub's blob %q: %v", blob, err)
		}
		rooms := []string{"My Room", "café ☕ chat", "--Hello--World--", "", "UPPER_case 42", strings.Repeat("ab ", 30)}
		in, _ := json.Marshal(map[string]any{"blob": blob, "rooms": rooms})
		var got struct {
			Rooms  []string `json:"rooms"`
			Hash   string   `json:"hash"`
			Answer string   `json:"answer"`
			Turn   []struct {
				URLs       string `json:"urls"`
				Username   string `json:"username"`
				Credential string `json:"credential"`
			} `json:"turn"`
			Relay  string   `json:"relay"`
			Errors []string `json:"errors"`
		}
		var res string
		tb.eval(`(async (input) => {
			const p = await import('/protocol.js');
			const g = p.parseBlob(input.blob);
			const errors = [];
			for (const bad of ['', 'g3|a|b|c|d~1', 'g1|u|p|AAAA|h~1', 'g1|u|p|`+galaxy.FingerprintB64(gb.Fingerprint)+`|', 'g1|u|p\r\na=x|`+galaxy.FingerprintB64(gb.Fingerprint)+`|h~1']) {
				try { p.parseBlob(bad); errors.push('accepted ' + JSON.stringify(bad)); } catch { /* rejected, as it must be */ }
			}
			return JSON.stringify({
				rooms: input.rooms.map(p.normalizeRoom),
				hash: p.roomFromHash('#My%20Room?d=Weekly&cap=4'),
				answer: p.synthAnswer(g, '0'),
				turn: p.turnServersFor(g),
				relay: p.meshConfig(g).iceTransportPolicy,
				errors,
			});
		})(`+string(in)+`)`, &res)
		if err := json.Unmarshal([]byte(res), &got); err != nil {
			t.Fatal(err)
		}
		for i, r := range rooms {
			if got.Rooms[i] != galaxy.NormalizeRoom(r) {
				t.Errorf("normalizeRoom(%q) = %q, the hub says %q", r, got.Rooms[i], galaxy.NormalizeRoom(r))
			}
		}
		if got.Hash != "my-room" {
			t.Errorf("room of #My%%20Room?d=Weekly&cap=4 = %q, want my-room", got.Hash)
		}
		want := []string{"a=ice-lite", "a=ice-ufrag:" + gb.Ufrag, "a=ice-pwd:" + gb.Pwd,
			"a=fingerprint:sha-256 " + galaxy.FingerprintHex(gb.Fingerprint), "a=setup:passive", "a=sctp-port:5000",
			"a=max-message-size:262144", fmt.Sprintf("a=candidate:1 1 udp 2130706431 %s %d typ host generation 0", gb.Endpoints[0].Addr, gb.Endpoints[0].Port)}
		for _, line := range want {
			if !strings.Contains(got.Answer, line+"\r\n") {
				t.Errorf("synthesized answer lacks %q:\n%s", line, got.Answer)
			}
		}
		if len(got.Turn) != 1 || got.Turn[0].URLs != fmt.Sprintf("turn:%s:%d?transport=udp", gb.Endpoints[0].Addr, gb.TURN.Port) ||
			got.Turn[0].Username != gb.TURN.User || got.Turn[0].Credential != gb.TURN.Pass || got.Relay != "relay" {
			t.Errorf("TURN servers %+v, policy %q: want one UDP server from the blob, relay only", got.Turn, got.Relay)
		}
		for _, e := range got.Errors {
			t.Error("parseBlob " + e)
		}
	})

	t.Run("hub unreachable", func(t *testing.T) {
		tb := b.open(t, "Ivy", hub.url+"#alone")
		tb.join()
		hub.stop()
		tb.waitFor("the hub-unreachable status", 30*time.Second, func(s appState) bool { return s.Hub == "unreachable" })
		text := tb.text("#banner")
		if !strings.Contains(text, "Wi-Fi") || !strings.Contains(text, "mobile data") {
			t.Errorf("hub-unreachable banner %q does not say what to check", text)
		}
		hub.start()
		tb.waitFor("the way back to the hub", 20*time.Second, func(s appState) bool { return s.Hub == "open" && s.InCall })
		tb.waitJS("the banner hidden", 10*time.Second, "!"+visible("#banner"))
	})

	t.Run("page not in a secure context", func(t *testing.T) {
		// What a guest gets on a plain-http address: the camera is off
		// limits there, so the page sends them to https and the certificate step.
		tab := b.newTab(t, "no-page")
		if _, err := chromedp.Call(tab.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
			cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `Object.defineProperty(window, 'isSecureContext', { value: false });`}); err != nil {
			t.Fatal(err)
		}
		tab.run(t, chromedp.Navigate(hub.url))
		tb := &page{t: t, name: "insecure", drv: tab}
		text := tb.text("#fatal-notice")
		if !strings.Contains(text, "https://") || !strings.Contains(text, "Advanced → Proceed") {
			t.Errorf("insecure-context message %q does not give the https address and the certificate step", text)
		}
	})

	t.Run("browser without WebRTC", func(t *testing.T) {
		tab := b.newTab(t, "no-page")
		if _, err := chromedp.Call(tab.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
			cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `delete window.RTCPeerConnection;`}); err != nil {
			t.Fatal(err)
		}
		tab.run(t, chromedp.Navigate(hub.url))
		tb := &page{t: t, name: "no-WebRTC", drv: tab}
		text := tb.text("#fatal-notice")
		if !strings.Contains(text, "can’t make calls") {
			t.Errorf("no-WebRTC message: %q", text)
		}
	})
}
