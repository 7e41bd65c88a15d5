package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// The STUN flood against a real browser: while the attacker (its own
// namespace) passes STUN checks from 10,000 and more source ports, a
// headless Chromium in the guest namespace opens the hub's call app, gets
// a hub session over WebRTC and joins a room, which the hub's /status
// shows. Then a Go guest joins and talks too.
func TestAbuseSTUNFloodChromium(t *testing.T) {
	chromium := testenv.RequireProgram(t, "chromium")[0]
	b := startBox(t, 1, "--https", hubIP+":443", "--room", "lobby")
	sent, firstWave, stop := stunFlood(t, b)
	<-firstWave

	start := time.Now()
	tab := chromiumIn(t, b.guest, chromium)
	browserStart := time.Since(start)
	start = time.Now()
	const room = "flood"
	if err := chromedp.Do(tab, chromedp.Navigate(fmt.Sprintf("https://%s/#%s", hubIP, room))); err != nil {
		t.Fatalf("chromium opening the call app: %v", err)
	}
	type appState struct {
		Hub    string `json:"hub"`
		SelfID string `json:"selfId"`
		Room   string `json:"room"`
		InCall bool   `json:"inCall"`
	}
	state := func() appState {
		t.Helper()
		raw, err := chromedp.Run(tab, chromedp.Evaluate[[]byte](`window.__kibitz ? window.__kibitz.state() : {}`))
		if err != nil {
			t.Fatalf("reading the app state: %v", err)
		}
		var s appState
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("app state %s: %v", raw, err)
		}
		return s
	}
	waitFor := func(what string, limit time.Duration, ok func(appState) bool) appState {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			s := state()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				b.alive()
				t.Fatalf("chromium during the flood: %s did not happen within %v; app state %+v", what, limit, s)
			}
			time.Sleep(150 * time.Millisecond)
		}
	}
	// The bound is generous: the flood and a starting browser share two cores.
	s := waitFor("a hub session", 60*time.Second, func(s appState) bool { return s.Hub == "open" && s.SelfID != "" })
	session := time.Since(start)
	t.Logf("chromium during the flood: browser start %.0f ms; page load to hub session %s (HTTPS, /api/join, WebRTC to the hub) %.0f ms",
		float64(browserStart.Microseconds())/1000, s.SelfID, float64(session.Microseconds())/1000)

	// Join the room as a guest would: a name, then Join.
	_, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(async () => {
		for (let i = 0; i < 100; i++) {
			const b = document.querySelector('#join');
			if (b && !b.disabled && b.getClientRects().length > 0) break;
			await new Promise((r) => setTimeout(r, 100));
		}
		const n = document.querySelector('#name');
		n.value = 'chromium';
		n.dispatchEvent(new Event('input', {bubbles: true}));
		document.querySelector('#join').click();
		return true;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("pressing Join: %v", err)
	}
	waitFor("joining the room", 30*time.Second, func(s appState) bool { return s.InCall && s.Room == room })

	// The hub agrees: a session in room "flood".
	var doc status.Hub
	for i := 0; ; i++ {
		doc, _ = statusDoc(t, b)
		if slices.ContainsFunc(doc.Rooms, func(r status.Room) bool { return r.Name == room && r.Members >= 1 }) {
			break
		}
		if i == 50 {
			t.Fatalf("hub /status shows no member in room %q after the browser joined: sessions %d, rooms %+v", room, doc.Sessions, doc.Rooms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	joined := b.normalGuest()
	stop()
	t.Logf("flood: %d source ports; hub sessions %d, in call %d", sent.Load(), doc.Sessions, doc.InCall)
	b.finish("stun-flood-chromium", session)
	t.Logf("Go guest join during the flood, after the browser: %.0f ms", float64(joined.Microseconds())/1000)
}

// chromiumIn starts a headless Chromium inside ns (ip netns exec; DevTools
// over chromedp's pipe, so the test needs no socket into the namespace)
// and returns its first tab.
func chromiumIn(t *testing.T, ns *netnstest.NS, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The hub's certificate is self-signed; a guest clicks through it once.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Args = append([]string{"ip", "netns", "exec", ns.Name}, cmd.Args...)
			if ip, err := exec.LookPath("ip"); err == nil {
				cmd.Path = ip
			}
			// ip execs chromium, which keeps this: it dies with the test.
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium in namespace %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}
