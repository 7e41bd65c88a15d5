package web

import (
	"context"
	"strconv"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// frozenFor is how long a frozen tab must stay in the room.
const frozenFor = 60 * time.Second

// freeze stops the page's JavaScript for d while its browser's network
// stack runs on, like a backgrounded phone tab, and returns a function
// that waits until the page runs again.
//   - Chromium: CDP Page.setWebLifecycleState "frozen" (what Chrome does to
//     background tabs), then "active".
//   - Firefox has no page freezing that a test can drive (BiDi has none,
//     and SIGSTOP on the content process would also stop its SCTP stack,
//     which no real Firefox tab suffers). The closest equivalent: the tab's
//     main thread is kept busy for d, so no event, timer or message
//     handler of the page runs, while ICE, DTLS and SCTP keep running on
//     their own threads.
func freeze(t *testing.T, p *page, d time.Duration) (thaw func()) {
	t.Helper()
	switch drv := p.drv.(type) {
	case *chromiumTab:
		setState := func(s cdppage.SetWebLifecycleStateState) {
			ctx, cancel := context.WithTimeout(drv.ctx, 10*time.Second)
			defer cancel()
			if _, err := chromedp.Call(ctx, cdppage.SetWebLifecycleState, cdppage.SetWebLifecycleStateParams{State: s}); err != nil {
				t.Fatalf("%s: set lifecycle state %s: %v", p.name, s, err)
			}
		}
		setState(cdppage.SetWebLifecycleStateStateFrozen)
		return func() {
			setState(cdppage.SetWebLifecycleStateStateActive)
		}
	case *firefoxTab:
		p.eval(`(() => { setTimeout(() => { const end = Date.now() + `+strconv.FormatInt(d.Milliseconds(), 10)+`; while (Date.now() < end) { /* frozen */ } }, 0); return true; })()`, nil)
		return func() {
			p.waitJS("the page running again", 30*time.Second, `true`)
		}
	}
	t.Fatalf("%s: no way to freeze a %s tab", p.name, p.drv.engine())
	return nil
}

// TestBrowserFrozenTabStays freezes one guest's page for 60 s while a
// Chromium guest watches: the hub must not drop it (its browser still
// answers the hub's SCTP heartbeats and keeps ICE consent), the watcher
// must keep it in the roster with a connected link, and after the thaw
// it is still in the call with the same hub id.
func TestBrowserFrozenTabStays(t *testing.T) {
	for _, kind := range []string{"chromium", "firefox"} {
		t.Run(kind, func(t *testing.T) {
			hub := startHub(t, 8)
			room := hub.url + "#frozen"
			w := openChromium(t, "Watcher", room)
			f := browserKinds[kind](t, "Frozen-"+kind, room)
			w.join()
			f.join()
			meshOf(w, f)
			f.setCam(true)
			w.waitFor("the camera flag", 10*time.Second, othersCam(true))
			before := f.state()
			thaw := freeze(t, f, frozenFor)
			frozen := time.Now()
			for time.Since(frozen) < frozenFor {
				s := w.state()
				if !s.hasMember(before.SelfID) || s.connectedLinks() != 1 {
					t.Fatalf("%v after freezing %s: the watcher's roster %v, links %+v", time.Since(frozen).Round(time.Second), f.name, s.Roster, s.Links)
				}
				if reason := hub.closedFor(before.SelfID); reason != "" {
					t.Fatalf("%v after freezing %s: the hub closed its session: %s", time.Since(frozen).Round(time.Second), f.name, reason)
				}
				time.Sleep(2 * time.Second)
			}
			thaw()
			t.Logf("%s stayed in the room for %v while frozen", f.name, time.Since(frozen).Round(time.Second))
			after := f.waitFor("the page back in the call", 15*time.Second, func(s appState) bool { return s.Hub == "open" && s.InCall })
			if after.SelfID != before.SelfID || after.HubSessions != before.HubSessions {
				t.Errorf("after the thaw: id %s→%s, hub sessions %d→%d (want the same session)", before.SelfID, after.SelfID, before.HubSessions, after.HubSessions)
			}
			w.waitFor("the frozen guest still there", 10*time.Second, func(s appState) bool { return s.hasMember(before.SelfID) && s.connectedLinks() == 1 })
		})
	}
}
