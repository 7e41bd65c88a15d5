package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// The browser end-to-end tests: Debian's chromium (headless, fake camera
// and microphone) runs the real app against the real cmd/hub binary (hub,
// TURN and HTTPS) on loopback.

// hubProcess is a running cmd/hub.
type hubProcess struct {
	t     *testing.T
	bin   string
	args  []string
	log   string
	url   string
	cmd   *exec.Cmd
	state string
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
// buildHub builds cmd/hub once per test; KIBITZBOX_HUB_BIN overrides it.
func buildHub(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("KIBITZBOX_HUB_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "hub")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hub")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hub: %v\n%s", err, out)
	}
	return bin
}

// advertiseIP is the address the hub advertises in the test: this machine's
// own interface address when it has one. Chromium sends from sockets bound
// to interface addresses, and the hub's replies to a 127.0.0.1 candidate
// would leave with the interface address as source, which ICE rejects; to
// the machine's own address both directions stay on the same address (and
// the kernel still carries it over the loopback device).
func advertiseIP(t *testing.T) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// startHub runs cmd/hub on free ports with a fresh state directory.
func startHub(t *testing.T, roomCap int) *hubProcess {
	t.Helper()
	dir := t.TempDir()
	ip := advertiseIP(t)
	httpsAddr := net.JoinHostPort(ip, strconv.Itoa(testenv.FreePort(t, "tcp")))
	h := &hubProcess{
		t:     t,
		bin:   buildHub(t),
		state: filepath.Join(dir, "state"),
		log:   filepath.Join(dir, "hub.log"),
		url:   "https://" + httpsAddr + "/",
	}
	h.args = []string{
		"--state", h.state,
		"--advertise", ip,
		"--port", strconv.Itoa(testenv.FreePort(t, "udp")),
		"--turn-port", strconv.Itoa(testenv.FreePort(t, "udp")),
		"--https", httpsAddr,
		"--http", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")),
		"--status", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")),
		"--room", "lobby",
		"--room-cap", strconv.Itoa(roomCap),
		// The TURN clients are this machine's own addresses.
		"--turn-clients", strings.Join(localNets(t), ","),
	}
	h.start()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			if b, err := os.ReadFile(h.log); err == nil {
				t.Logf("hub log (last 6000 bytes):\n%s", tail(string(b), 6000))
			}
		}
	})
	return h
}

// localNets are the IPv4 networks of this machine's interfaces.
func localNets(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("list interface addresses: %v", err)
	}
	out := []string{"127.0.0.0/8"}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			out = append(out, (&net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask}).String())
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (h *hubProcess) start() {
	h.t.Helper()
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		h.t.Fatal(err)
	}
	logf, err := os.OpenFile(h.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	h.cmd = exec.Command(h.bin, h.args...)
	h.cmd.Stdout = logf
	h.cmd.Stderr = logf
	if err := h.cmd.Start(); err != nil {
		h.t.Fatalf("start %s: %v", h.bin, err)
	}
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the hub's self-signed certificate
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(h.url + "api/join")
		if err == nil {
			var join struct {
				Blob string `json:"blob"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&join)
			resp.Body.Close()
			if derr == nil && strings.HasPrefix(join.Blob, "g2|") {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(h.log)
			h.t.Fatalf("the hub did not answer %sapi/join with a g2 blob within 30 s (last error %v); log:\n%s", h.url, err, tail(string(b), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// joinInfo is the hub's /api/join answer.
type joinInfo struct {
	Blob    string `json:"blob"`
	Room    string `json:"room"`
	RoomCap int    `json:"room_cap"`
}

func (h *hubProcess) join() joinInfo {
	h.t.Helper()
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the hub's self-signed certificate
	}
	resp, err := client.Get(h.url + "api/join")
	if err != nil {
		h.t.Fatalf("GET /api/join: %v", err)
	}
	defer resp.Body.Close()
	var j joinInfo
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		h.t.Fatalf("decode /api/join: %v", err)
	}
	return j
}

func (h *hubProcess) stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
	h.cmd = nil
}

// browser is one chromium process; pages are its tabs.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := testenv.RequireProgram(t, "chromium")[0]
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("ignore-certificate-errors", true), // test only: the hub's self-signed certificate
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &browser{ctx: ctx}
}

// fakeMedia are the flags that give chromium a fake camera and microphone
// and grant them without a prompt.
var fakeMedia = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("use-fake-ui-for-media-stream", true),
}

// tab is one page of the app.
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	logs   []string
}

type linkState struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Dialer bool   `json:"dialer"`
}

type appState struct {
	Hub         string `json:"hub"`
	HubSessions int    `json:"hubSessions"`
	SelfID      string `json:"selfId"`
	Room        string `json:"room"`
	InCall      bool   `json:"inCall"`
	Cam         bool   `json:"cam"`
	MicOn       bool   `json:"micOn"`
	Toast       string `json:"toast"`
	Roster      []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Cam  bool   `json:"cam"`
	} `json:"roster"`
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

type peerStats struct {
	State         string  `json:"state"`
	FramesDecoded int     `json:"framesDecoded"`
	AudioPackets  int     `json:"audioPackets"`
	AudioLevel    float64 `json:"audioLevel"`
	Relay         bool    `json:"relay"`
}

// open loads url in a new tab and waits for the pre-join screen.
func (b *browser) open(t *testing.T, name, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{t: t, name: name, ctx: ctx, cancel: cancel}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok && true {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(fmt.Sprint(a.Value), `"`)+a.Description)
			}
			tb.mu.Lock()
			tb.logs = append(tb.logs, string(e.Type)+": "+strings.Join(parts, " "))
			tb.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if t.Failed() && len(tb.logs) > 0 {
			t.Logf("%s console:\n%s", name, tail(strings.Join(tb.logs, "\n"), 3000))
		}
	})
	tb.run(chromedp.Navigate(url))
	return tb
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

// value runs one action that returns a value.
func value[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
	return v
}

func (tb *tab) state() appState {
	tb.t.Helper()
	return value(tb, chromedp.Evaluate[appState](`window.__kibitz ? window.__kibitz.state() : {}`))
}

func (tb *tab) stats() map[string]peerStats {
	tb.t.Helper()
	return value(tb, chromedp.Evaluate[map[string]peerStats](`window.__kibitz.stats()`, chromedp.EvalAwaitPromise))
}

// waitFor polls the app state until ok holds, failing after timeout.
func (tb *tab) waitFor(what string, timeout time.Duration, ok func(appState) bool) appState {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tb.state()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(s)
			screen := value(tb, chromedp.Evaluate[string](`(document.body.dataset.screen || 'loading') + ': ' + (document.querySelector('main > section:not([hidden])')?.innerText ?? '')`))
			tb.t.Fatalf("%s: %s did not happen within %v; state: %s; screen %q", tb.name, what, timeout, b, screen)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// join types a name, presses Join and waits until the tab is in the call.
func (tb *tab) join() {
	tb.t.Helper()
	tb.waitFor("hub connection", 20*time.Second, func(s appState) bool { return s.Hub == "open" })
	tb.run(
		chromedp.WaitVisible(chromedp.ID("join")),
		chromedp.SetValue(chromedp.ID("name"), tb.name),
		chromedp.Click(chromedp.ID("join")),
	)
	tb.waitFor("joining", 10*time.Second, func(s appState) bool { return s.InCall })
}

// setCam presses the camera button and waits until the camera is on or off.
func (tb *tab) setCam(on bool) {
	tb.t.Helper()
	tb.click("#btn-cam")
	tb.waitFor(fmt.Sprintf("own camera on=%v", on), 10*time.Second, func(s appState) bool { return s.Cam == on })
}

// setMic presses the mic button and waits until the mic is on or off.
func (tb *tab) setMic(on bool) {
	tb.t.Helper()
	tb.click("#btn-mic")
	tb.waitFor(fmt.Sprintf("own mic on=%v", on), 10*time.Second, func(s appState) bool { return s.MicOn == on })
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run(chromedp.Click(chromedp.CSS(sel)))
}

// othersCam reports whether every roster member of tb has the camera flag cam.
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

// meshOf waits until every tab has a connected link to each of the others.
func meshOf(tabs ...*tab) {
	for _, tb := range tabs {
		tb.t.Cleanup(func() {
			if tb.t.Failed() {
				b, _ := json.Marshal(tb.state())
				tb.t.Logf("%s state: %s", tb.name, b)
			}
		})
		tb.waitFor(fmt.Sprintf("a full mesh of %d", len(tabs)), 30*time.Second, func(s appState) bool {
			return len(s.Roster) == len(tabs)-1 && len(s.Links) == len(tabs)-1 && s.connectedLinks() == len(tabs)-1 &&
				len(s.Tiles) == len(tabs)
		})
	}
}

// mediaFlows checks that tb decodes video frames and receives audio from
// every other participant, and that both keep increasing.
func mediaFlows(tb *tab, peers int) {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	first := tb.stats()
	for {
		time.Sleep(time.Second)
		now := tb.stats()
		ok := len(now) == peers
		for id, s := range now {
			before := first[id]
			if s.FramesDecoded <= before.FramesDecoded || s.AudioPackets <= before.AudioPackets || s.FramesDecoded < 10 || !s.Relay {
				ok = false
			}
		}
		if ok {
			tb.t.Logf("%s receives: %+v", tb.name, now)
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: video frames/audio packets from %d peers over TURN did not keep arriving: before %+v, now %+v", tb.name, peers, first, now)
		}
		first = now
	}
}

func TestBrowserCall(t *testing.T) {
	testenv.Short(t, "the chromium end-to-end tests")
	hub := startHub(t, 8)
	b := newBrowser(t, fakeMedia...)
	room := hub.url + "#Team Sync"

	ada := b.open(t, "Ada", room)
	bo := b.open(t, "Bo", room)
	if s := ada.state(); s.Room != "team-sync" {
		t.Fatalf("room from the hash %q: got %q, want team-sync", "#Team Sync", s.Room)
	}
	ada.join()
	bo.join()

	t.Run("two pages see and hear each other", func(t *testing.T) {
		ada.t, bo.t = t, t
		meshOf(ada, bo)
		for _, tb := range []*tab{ada, bo} {
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
	})

	t.Run("chat line arrives", func(t *testing.T) {
		ada.t, bo.t = t, t
		ada.click("#btn-chat")
		ada.run(
			chromedp.WaitVisible(chromedp.ID("chat-input")),
			chromedp.SendKeys(chromedp.ID("chat-input"), "Hi Bo, can you hear me?"),
			chromedp.Click(chromedp.ID("chat-send")),
		)
		s := bo.waitFor("Ada's chat line", 10*time.Second, func(s appState) bool {
			return len(s.Chat) == 1 && s.Chat[0].Text == "Hi Bo, can you hear me?" && !s.Chat[0].Mine
		})
		if s.Chat[0].From != ada.state().SelfID {
			t.Errorf("chat line from %q, want Ada's id %q", s.Chat[0].From, ada.state().SelfID)
		}
		bo.click("#btn-chat")
		bo.run(
			chromedp.SendKeys(chromedp.ID("chat-input"), "Loud and clear!"),
			chromedp.Click(chromedp.ID("chat-send")),
		)
		ada.waitFor("Bo's chat line", 10*time.Second, func(s appState) bool { return len(s.Chat) == 2 && s.Chat[1].Text == "Loud and clear!" })
		bo.click("#btn-chat")
	})

	t.Run("screenshot", func(t *testing.T) {
		ada.t = t
		time.Sleep(1500 * time.Millisecond) // let the fake camera frames settle in both tiles
		png := value(ada, chromedp.CaptureScreenshot())
		if len(png) < 20000 {
			t.Fatalf("screenshot is only %d bytes", len(png))
		}
		out := filepath.Join(t.TempDir(), "screenshot-call.png")
		if os.Getenv("KIBITZBOX_WRITE_SCREENSHOT") != "" {
			out = filepath.Join("..", "docs", "screenshot-call.png")
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", out)
		ada.click("#btn-chat")
	})

	t.Run("camera toggles never re-dial", func(t *testing.T) {
		ada.t, bo.t = t, t
		before := map[string]appState{"Ada": ada.state(), "Bo": bo.state()}
		for i := 0; i < 3; i++ {
			ada.setCam(false)
			bo.waitFor("Ada's camera off", 10*time.Second, othersCam(false))
			ada.setCam(true)
			bo.waitFor("Ada's camera on", 10*time.Second, othersCam(true))
		}
		for _, tb := range []*tab{ada, bo} {
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
		ada.t, bo.t = t, t
		before := map[string]appState{"Ada": ada.state(), "Bo": bo.state()}
		adaID := before["Ada"].SelfID
		screenWidth := `(() => { const v = document.querySelector('#grid .tile.screen video'); return v ? v.videoWidth : 0; })()`
		ada.click("#btn-screen")
		bo.waitFor("Ada's screen tile", 10*time.Second, func(s appState) bool { return slices.Contains(s.Tiles, adaID+":screen") })
		deadline := time.Now().Add(10 * time.Second)
		for value(bo, chromedp.Evaluate[int](screenWidth)) <= 16 {
			if time.Now().After(deadline) {
				t.Fatal("Bo's screen tile shows no picture from Ada's screen lane")
			}
			time.Sleep(200 * time.Millisecond)
		}
		ada.click("#btn-screen")
		bo.waitFor("Ada's screen tile gone", 10*time.Second, func(s appState) bool { return !slices.Contains(s.Tiles, adaID+":screen") })
		for _, tb := range []*tab{ada, bo} {
			s, was := tb.state(), before[tb.name]
			if s.PCCreated != was.PCCreated || s.Negotiations != was.Negotiations {
				t.Errorf("%s: sharing the screen made %d new peer connections and %d negotiations",
					tb.name, s.PCCreated-was.PCCreated, s.Negotiations-was.Negotiations)
			}
		}
	})

	t.Run("three pages form a full mesh", func(t *testing.T) {
		ada.t, bo.t = t, t
		cy := b.open(t, "Cy", room)
		cy.join()
		meshOf(ada, bo, cy)
		cy.setCam(true)
		mediaFlows(cy, 2)

		// Crash-like: the tab's target is closed, no Leave button.
		cyID := cy.state().SelfID
		closed := time.Now()
		cy.cancel()
		for _, tb := range []*tab{ada, bo} {
			tb.waitFor("Cy's tile removed", 5*time.Second-time.Since(closed), func(s appState) bool {
				return len(s.Tiles) == 2 && !slices.ContainsFunc(s.Roster, func(m struct {
					ID   string `json:"id"`
					Name string `json:"name"`
					Cam  bool   `json:"cam"`
				}) bool {
					return m.ID == cyID
				})
			})
		}
		t.Logf("Cy's tile was gone on both pages %v after closing its tab", time.Since(closed).Round(10*time.Millisecond))
	})

	t.Run("rooms are separate", func(t *testing.T) {
		ada.t, bo.t = t, t
		di := b.open(t, "Di", hub.url+"#another-room")
		di.join()
		// Presence beacons go out every 2.5 s: after three of them nobody
		// from the other room may have shown up on either side.
		deadline := time.Now().Add(7500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if s := di.state(); len(s.Roster) != 0 || len(s.Links) != 0 {
				t.Fatalf("Di in another room sees %v, links %+v", s.rosterNames(), s.Links)
			}
			for _, tb := range []*tab{ada, bo} {
				if s := tb.state(); len(s.Roster) != 1 {
					t.Fatalf("%s sees %v, want only the other one", tb.name, s.rosterNames())
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		di.cancel()
	})

	t.Run("a stalled hub costs no reconnect", func(t *testing.T) {
		ada.t, bo.t = t, t
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
		for _, tb := range []*tab{ada, bo} {
			s, was := tb.state(), before[tb.name]
			if s.HubSessions != was.HubSessions || s.SelfID != was.SelfID || s.PCCreated != was.PCCreated || s.Hub != "open" {
				t.Errorf("%s after a 1.5 s hub stall: hub %s, sessions %d→%d, id %s→%s, peer connections %d→%d",
					tb.name, s.Hub, was.HubSessions, s.HubSessions, was.SelfID, s.SelfID, was.PCCreated, s.PCCreated)
			}
		}
	})

	t.Run("hub restart heals the call", func(t *testing.T) {
		ada.t, bo.t = t, t
		sessions := ada.state().HubSessions
		killed := time.Now()
		hub.stop()
		hub.start()
		restarted := time.Now()
		for _, tb := range []*tab{ada, bo} {
			tb.waitFor("a new hub session", 10*time.Second, func(s appState) bool { return s.HubSessions > sessions && s.Hub == "open" })
		}
		t.Logf("both pages were back on the hub %v after it answered again (%v after it was killed)",
			time.Since(restarted).Round(10*time.Millisecond), time.Since(killed).Round(10*time.Millisecond))
		meshOf(ada, bo)
		mediaFlows(ada, 1)
	})
}

// kibitzPeer is a stand-in for a kibitz.chat client, written from the wire
// rules in docs/protocol.md (§8, in-room payloads) and not from
// the app's room or mesh code: hub presence with Kibitz-shaped payloads,
// one relay-only RTCPeerConnection per peer with audio, camera and screen
// lanes plus the content channel, the string glare rule, and chat.
const kibitzPeer = `(async (blob, room) => {
	const p = await import('/protocol.js');
	const g = p.parseBlob(blob);
	const kz = window.kz = { self: null, roster: {}, chat: [], links: {}, stats: {} };
	const canvas = document.createElement('canvas');
	canvas.width = 320; canvas.height = 240;
	const ctx = canvas.getContext('2d');
	let n = 0;
	setInterval(() => { ctx.fillStyle = 'hsl(' + (n++ * 7 % 360) + ' 80% 50%)'; ctx.fillRect(0, 0, 320, 240); }, 50);
	const ac = new AudioContext();
	const osc = ac.createOscillator();
	const dest = ac.createMediaStreamDestination();
	osc.connect(dest); osc.start();
	const tracks = [dest.stream.getAudioTracks()[0], canvas.captureStream(20).getVideoTracks()[0], canvas.captureStream(1).getVideoTracks()[0]];
	const present = () => ({ k: 'present', name: 'Kibitz Kim', cam: true, avatar: '🦊',
		meta: { '~kbz': { v: '9.9.9', b: 'kz', p: 1, f: ['chat.v1', 'xfer.v1', 'xfer.v2'] } } });
	const link = (id) => {
		const pc = new RTCPeerConnection(p.meshConfig(g));
		const stream = new MediaStream();
		for (const t of tracks) pc.addTrack(t, stream);
		pc.onicecandidate = (e) => { if (e.candidate) hub.send(id, { k: 'sig', payload: { c: e.candidate.toJSON() } }); };
		const bind = (dc) => {
			kz.links[id].dc = dc;
			dc.onmessage = (e) => { const m = JSON.parse(e.data); if (m.k === 'chat') kz.chat.push({ from: id, text: m.text }); };
		};
		pc.ondatachannel = (e) => bind(e.channel);
		kz.links[id] = { pc, bind };
		return pc;
	};
	const hub = new p.Hub(g, {
		onOpen: (id) => { kz.self = id; hub.broadcast({ k: 'hi' }); hub.broadcast(present()); },
		onFrom: async (from, m) => {
			if (!m || typeof m !== 'object') return;
			if (m.k === 'hi') hub.broadcast(present());
			if (m.k === 'present') {
				kz.roster[from] = m;
				if (!kz.links[from] && kz.self < from) {
					const pc = link(from);
					kz.links[from].bind(pc.createDataChannel('content'));
					await pc.setLocalDescription(await pc.createOffer());
					hub.send(from, { k: 'sig', payload: { d: pc.localDescription.toJSON() } });
				}
			}
			if (m.k === 'sig' && m.payload) {
				const s = m.payload;
				if (s.d && s.d.type === 'offer') {
					if (kz.links[from]) kz.links[from].pc.close();
					const pc = link(from);
					await pc.setRemoteDescription(s.d);
					await pc.setLocalDescription(await pc.createAnswer());
					hub.send(from, { k: 'sig', payload: { d: pc.localDescription.toJSON() } });
				} else if (s.d && s.d.type === 'answer') {
					await kz.links[from].pc.setRemoteDescription(s.d);
				} else if (s.c && kz.links[from]) {
					kz.links[from].pc.addIceCandidate(s.c).catch(() => {});
				}
			}
		},
	});
	hub.join(room);
	hub.start();
	setInterval(() => { if (hub.status === 'open') hub.broadcast(present()); }, 2500);
	setInterval(async () => {
		for (const [id, l] of Object.entries(kz.links)) {
			let frames = 0;
			(await l.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0; });
			kz.stats[id] = { state: l.pc.connectionState, frames };
		}
	}, 500);
	kz.say = (text) => { for (const l of Object.values(kz.links)) if (l.dc && l.dc.readyState === 'open') l.dc.send(JSON.stringify({ k: 'chat', text, mid: kz.self + '#1', ts: Date.now() })); };
	return 'started';
})`

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

// TestBrowserKibitzPeer puts a Kibitz-shaped client and the app in one room.
func TestBrowserKibitzPeer(t *testing.T) {
	testenv.Short(t, "the chromium end-to-end tests")
	hub := startHub(t, 8)
	b := newBrowser(t, fakeMedia...)
	// Any document of the hub's origin (not the app) can import protocol.js.
	kz := b.open(t, "kibitz peer", hub.url+"api/join")
	if got := value(kz, chromedp.Evaluate[string](kibitzPeer+`(`+strconv.Quote(hub.join().Blob)+`, "mixed")`, chromedp.EvalAwaitPromise)); got != "started" {
		t.Fatalf("the Kibitz-shaped peer did not start: %q", got)
	}
	kzState := func() kibitzState { return value(kz, chromedp.Evaluate[kibitzState](`window.kz`)) }
	deadline := time.Now().Add(10 * time.Second)
	for kzState().Self == "" {
		if time.Now().After(deadline) {
			t.Fatal("the Kibitz-shaped peer got no hub id")
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

	value(kz, chromedp.Evaluate[chromedp.Void](`window.kz.say('hello from kibitz')`))
	zed.waitFor("the Kibitz peer's chat line", 10*time.Second, func(s appState) bool {
		return len(s.Chat) == 1 && s.Chat[0].Text == "hello from kibitz" && s.Chat[0].From == kzs.Self
	})
	zed.click("#btn-chat")
	zed.run(chromedp.SendKeys(chromedp.ID("chat-input"), "hi Kim"), chromedp.Click(chromedp.ID("chat-send")))
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
	tile := value(zed, chromedp.Evaluate[string](`document.querySelector('#grid .tile[data-id="`+kzs.Self+`"] .avatar').textContent`))
	if tile != "🦊" {
		t.Errorf("the Kibitz peer's avatar shows %q, want its emoji", tile)
	}
}

// TestBrowserMessages checks that failures show a message, not a blank page.
func TestBrowserMessages(t *testing.T) {
	testenv.Short(t, "the chromium end-to-end tests")
	hub := startHub(t, 1)

	t.Run("camera refused", func(t *testing.T) {
		// No fake UI: every permission prompt is denied.
		b := newBrowser(t, chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("deny-permission-prompts", true))
		tb := b.open(t, "Eve", hub.url+"#refused")
		tb.waitFor("the camera-blocked message", 15*time.Second, func(s appState) bool { return s.Notice == "denied" })
		text := value(tb, chromedp.Text(chromedp.ID("prejoin-notice"), chromedp.NodeVisible))
		if !strings.Contains(text, "blocked") || !strings.Contains(text, "allow") {
			t.Errorf("camera-refused message %q does not say what happened and what to do", text)
		}
		// Joining still works: listen and chat without a camera.
		tb.join()
	})

	b := newBrowser(t, fakeMedia...)
	t.Run("room full", func(t *testing.T) {
		first := b.open(t, "First", hub.url+"#tiny")
		first.join()
		second := b.open(t, "Second", hub.url+"#tiny")
		second.waitFor("the room-full message before joining", 15*time.Second, func(s appState) bool {
			return len(s.Roster) == 1 && s.Hub == "open" && s.Notice == "full"
		})
		second.run(chromedp.Click(chromedp.ID("join")))
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
		res := value(tb, chromedp.Evaluate[string](`(async (input) => {
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
		})(`+string(in)+`)`, chromedp.EvalAwaitPromise))
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
		text := value(tb, chromedp.Text(chromedp.ID("banner"), chromedp.NodeVisible))
		if !strings.Contains(text, "Wi-Fi") || !strings.Contains(text, "mobile data") {
			t.Errorf("hub-unreachable banner %q does not say what to check", text)
		}
		hub.start()
		tb.waitFor("the way back to the hub", 20*time.Second, func(s appState) bool { return s.Hub == "open" && s.InCall })
		tb.run(chromedp.WaitNotVisible(chromedp.ID("banner")))
	})

	t.Run("page not in a secure context", func(t *testing.T) {
		// What a guest gets on a plain-http address: the camera is off
		// limits there, so the page sends them to https and the certificate step.
		ctx, cancel := chromedp.NewContext(b.ctx)
		defer cancel()
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: `Object.defineProperty(window, 'isSecureContext', { value: false });`}); err != nil {
			t.Fatal(err)
		}
		tb := &tab{t: t, name: "insecure", ctx: ctx, cancel: cancel}
		tb.run(chromedp.Navigate(hub.url))
		text := value(tb, chromedp.Text(chromedp.ID("fatal-notice"), chromedp.NodeVisible))
		if !strings.Contains(text, "https://") || !strings.Contains(text, "Advanced → Proceed") {
			t.Errorf("insecure-context message %q does not give the https address and the certificate step", text)
		}
	})

	t.Run("browser without WebRTC", func(t *testing.T) {
		ctx, cancel := chromedp.NewContext(b.ctx)
		defer cancel()
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: `delete window.RTCPeerConnection;`}); err != nil {
			t.Fatal(err)
		}
		tb := &tab{t: t, name: "no-WebRTC", ctx: ctx, cancel: cancel}
		tb.run(chromedp.Navigate(hub.url))
		text := value(tb, chromedp.Text(chromedp.ID("fatal-notice"), chromedp.NodeVisible))
		if !strings.Contains(text, "can’t make calls") {
			t.Errorf("no-WebRTC message: %q", text)
		}
	})
}
