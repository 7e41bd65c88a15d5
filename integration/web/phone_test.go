package web

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// phones are the emulated devices of the phone path: their CSS viewport,
// touch and mobile user agent. The scale is 1 so the screenshots in docs/
// stay small.
var phones = []struct {
	slug  string
	info  device.Info
	probe string // the captive-portal check the phone's OS makes
}{
	{"iphone", device.Info{
		Name:      "iPhone SE",
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		Width:     375, Height: 667, Scale: 1, Mobile: true, Touch: true,
	}, "/hotspot-detect.html"},
	{"android", device.Info{
		Name:      "Pixel 7",
		UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
		Width:     412, Height: 915, Scale: 1, Mobile: true, Touch: true,
	}, "/generate_204"},
}

type emulated device.Info

func (e emulated) Device() device.Info { return device.Info(e) }

// layoutProblems lists what breaks the phone rules on the current screen:
// a page wider than the screen (horizontal scroll), and shown controls
// smaller than 44×44 CSS px (Apple's and Android's minimum tap target).
// A checkbox's tap target is its whole label row (the operator page).
const layoutProblems = `(() => {
	const out = [];
	const sw = document.documentElement.scrollWidth, vw = window.innerWidth;
	if (sw > vw) out.push('horizontal scroll: page ' + sw + ' px wide on a ' + vw + ' px screen');
	for (const e of document.querySelectorAll('button, a[href], input, select, textarea, [role=button]')) {
		const target = e.type === 'checkbox' && e.closest('label') ? e.closest('label') : e;
		const r = target.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === 'hidden') continue;
		if (e.closest('[hidden]')) continue;
		if (r.width < 44 || r.height < 44) {
			const name = e.id ? '#' + e.id : e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : '');
			out.push('tap target ' + name + ' is ' + Math.round(r.width) + 'x' + Math.round(r.height));
		}
	}
	return out;
})()`

// TestBrowserPhonePath walks a guest's path on emulated phones: the
// captive splash of its OS, the pre-join screen, the call and the chat
// sheet, checking the layout rules on each and taking a screenshot
// (written to docs/ with KIBITZBOX_WRITE_SCREENSHOT=1).
func TestBrowserPhonePath(t *testing.T) {
	hub := startHub(t, 8)
	room := hub.url + "#phones"
	host := openChromium(t, "Host", room)
	host.join()
	host.setCam(true)
	for _, ph := range phones {
		t.Run(ph.info.Name, func(t *testing.T) {
			setT(t, host)
			b := newChromium(t, fakeMedia...)
			tab := b.newTab(t, ph.info.Name)
			p := &page{t: t, name: ph.info.Name, drv: tab}
			tab.run(t, chromedp.Emulate(emulated(ph.info)))
			shot := func(step string) {
				t.Helper()
				var problems []string
				p.eval(layoutProblems, &problems)
				for _, pr := range problems {
					t.Errorf("%s, %s: %s", ph.info.Name, step, pr)
				}
				png := value(t, tab, chromedp.CaptureScreenshot())
				dir := t.TempDir()
				if os.Getenv("KIBITZBOX_WRITE_SCREENSHOT") != "" {
					dir = filepath.Join("..", "..", "docs")
				}
				out := filepath.Join(dir, fmt.Sprintf("phone-%s-%s.png", ph.slug, step))
				if err := os.WriteFile(out, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s (%d bytes)", step, out, len(png))
			}

			// The OS's captive-portal check lands on the splash.
			tab.run(t, chromedp.Navigate("http://"+hub.captive+ph.probe))
			var splash string
			p.eval(`document.body.innerText`, &splash)
			if !strings.Contains(splash, hub.url[len("https://"):len(hub.url)-1]) && !strings.Contains(strings.ToLower(splash), "browser") {
				t.Errorf("%s splash does not send the guest to the browser or the app address: %q", ph.info.Name, tail(splash, 300))
			}
			shot("splash")

			tab.run(t, chromedp.Navigate(room))
			p.waitFor("hub connection", 20*time.Second, func(s appState) bool { return s.Hub == "open" })
			p.waitJS("an enabled Join button", 10*time.Second, visible("#join")+` && !document.querySelector('#join').disabled`)
			var joinBottom, screenH float64
			p.eval(`document.querySelector('#join').getBoundingClientRect().bottom`, &joinBottom)
			p.eval(`window.innerHeight`, &screenH)
			if joinBottom > screenH {
				t.Errorf("%s: the Join button ends at %.0f px, below the %.0f px screen (needs scrolling)", ph.info.Name, joinBottom, screenH)
			}
			shot("prejoin")

			p.join()
			meshOf(host, p)
			host.waitFor("the phone guest", 10*time.Second, func(s appState) bool { return len(s.Roster) == 1 })
			p.waitJS("the host's video in its tile", 15*time.Second, `[...document.querySelectorAll('#grid .tile video')].some((v) => v.videoWidth > 16)`)
			time.Sleep(time.Second) // a settled frame for the screenshot
			shot("call")

			p.say("Hi from the phone")
			host.waitFor("the phone's chat line", 10*time.Second, func(s appState) bool {
				return len(s.Chat) > 0 && s.Chat[len(s.Chat)-1].Text == "Hi from the phone"
			})
			p.eval(`document.activeElement && document.activeElement.blur()`, nil)
			shot("chat")
			p.click("#btn-leave")
			host.waitFor("the phone guest gone", 10*time.Second, func(s appState) bool { return len(s.Roster) == 0 })
		})
	}
}
