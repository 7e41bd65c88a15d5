package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// The air tests (issue #16, docs/air.md): calls through the real hub with
// an air budget. On loopback every tab sends from this machine's one
// address, so the relay sees all the browsers as one guest; the app's own
// limits (web/static/air.js) share the budget between the tabs, and the
// relay holds that one guest to the budget. A second guest is a Go TURN
// client on 127.0.0.2.
//
// AIR_BENCH=<file> turns the test into `make bench-air`: calls of 2, 3 and
// 4 people with and without a budget, one line of figures each in <file>.

func TestBrowserAirBudget(t *testing.T) {
	if out := os.Getenv("AIR_BENCH"); out != "" {
		airBench(t, out)
		return
	}

	// The four-person call at 3000 kb/s is measured by make bench-air, not
	// asserted here: on the 2-core build machine four 640x480 tabs starve
	// each other's encoders (docs/air.md, "What the tests show").
	t.Run("a guest that ignores shaping is held to its share", func(t *testing.T) {
		const budget = 3000.0
		hub := startHub(t, 8, "--air-budget-kbps", "3000")
		pages := airCall(t, hub, 2)
		load := startTURNLoad(t, hub, 10_000_000)
		defer load.stop()
		// Shares move twice a second and the browsers back off within a
		// few: measure after 8 s, over 12 s.
		time.Sleep(8 * time.Second)
		rec := recordAir(t, hub, pages, 12*time.Second)
		delivered := load.deliveredBps(rec.start, rec.end) / 1000
		rec.logSummary(t)

		var shares []float64
		var rateSum float64
		for _, s := range rec.air {
			g, ok := s.guests[loadIP]
			if ok {
				shares = append(shares, g.ShareKbps)
				rateSum += g.Kbps
			}
		}
		if len(shares) < len(rec.air)/2 {
			t.Fatalf("the load guest %s is in only %d of %d /status samples", loadIP, len(shares), len(rec.air))
		}
		// The share moves with the browsers' demand: compare with the
		// mean share over the window, as the delivered rate is a mean too.
		var shareSum float64
		for _, v := range shares {
			shareSum += v
		}
		share, rate := shareSum/float64(len(shares)), rateSum/float64(len(shares))
		offered := load.offeredBps(rec.start, rec.end) / 1000
		t.Logf("load guest: offered %.0f kb/s, delivered %.0f kb/s at the receiving allocation; /status: rate %.0f kb/s, share %.0f kb/s (means), share median %.0f; total %.0f kb/s of %.0f (median)",
			offered, delivered, rate, share, median(shares), median(rec.totals()), budget)
		if share <= 0 || share > budget {
			t.Errorf("the load guest's share is %.0f kb/s, want within (0, %.0f]", share, budget)
		}
		if offered < 2*budget {
			t.Fatalf("the load client offered only %.0f kb/s: it cannot test the shaper", offered)
		}
		// About its share: at most 15 % above it, and not starved either.
		if delivered > share*1.15 {
			t.Errorf("delivered %.0f kb/s to the receiving allocation, more than 115 %% of the guest's share %.0f kb/s", delivered, share)
		}
		if delivered < share*0.6 {
			t.Errorf("delivered only %.0f kb/s, under 60 %% of the guest's share %.0f kb/s", delivered, share)
		}
		// /status says what the relay passed on, not what the guest offered.
		if rate > delivered*1.25+50 || rate < delivered*0.75 {
			t.Errorf("/status gives the load guest %.0f kb/s on average, but %.0f kb/s arrived", rate, delivered)
		}
		if tot := median(rec.totals()); tot > budget*1.15 {
			t.Errorf("the relayed total's median is %.0f kb/s, over the %.0f kb/s budget by more than 15 %%", tot, budget)
		}
		if errs := rec.keepsDecoding(2*time.Second, rec.end.Sub(rec.start)); len(errs) > 0 {
			t.Errorf("beside the load guest:\n%s", strings.Join(errs, "\n"))
		}
		// The idle screen lane's placeholder is capped: libwebrtc would
		// otherwise hand it part of each link's estimate, taken from the
		// camera.
		for _, p := range pages {
			e := sendEstimates(p)
			t.Logf("%s: estimate %v b/s, placeholder target %v b/s", p.name, e.EstimateBps, e.PlaceholderBps)
			if len(e.PlaceholderBps) == 0 {
				t.Errorf("%s: no encoder target for the screen lane's placeholder", p.name)
			}
			for _, v := range e.PlaceholderBps {
				if v > 30_000 {
					t.Errorf("%s: the screen lane's placeholder may use %.0f b/s, want at most 30 kb/s", p.name, v)
				}
			}
		}
	})

	t.Run("video is full: the next guest joins with audio", func(t *testing.T) {
		// 600 kb/s: two people with video need 2·150 + 2·40 = 380 kb/s and
		// fit; a third with video would need 3·2·150 + 3·2·40 = 1140.
		hub := startHub(t, 8, "--air-budget-kbps", "600")
		t.Cleanup(func() {
			if t.Failed() {
				b, _ := json.Marshal(hub.status(t).Air)
				t.Logf("/status air: %s", b)
			}
		})
		b := newChromium(t, fakeMedia...)
		ada := b.open(t, "Ada", hub.url)
		ada.join()
		ada.setMic(true)
		ada.setCam(true)
		waitVideoFull(t, hub, false, "one member with video: a second fits")
		bo := b.open(t, "Bo", hub.url)
		bo.waitFor("the join screen without a video-full notice", 15*time.Second, func(s appState) bool {
			return s.Hub == "open" && len(s.Roster) == 1 && s.Notice != "videofull"
		})
		bo.join()
		bo.setMic(true)
		bo.setCam(true)
		meshOf(ada, bo)
		waitVideoFull(t, hub, true, "two members with video: a third does not fit")

		cy := b.open(t, "Cy", hub.url)
		cy.waitFor("the video-full notice on the join screen", 15*time.Second, func(s appState) bool {
			return s.Hub == "open" && len(s.Roster) == 2 && s.Notice == "videofull"
		})
		if text := cy.text("#prejoin-notice"); !strings.Contains(text, "Video is full in this room") || !strings.Contains(text, "join with audio") {
			t.Errorf("the join screen says %q", text)
		}
		// A preview that finishes after the roster arrived (a slow camera
		// on a busy phone, or another microphone picked) keeps the notice.
		const previewID = `document.getElementById('preview').srcObject?.id ?? ''`
		var before, now string
		cy.eval(previewID, &before)
		var picked bool
		cy.eval(`(() => { const s = document.getElementById('mic-select'); if (s.options.length < 2) return false;
			s.selectedIndex = (s.selectedIndex + 1) % s.options.length; s.dispatchEvent(new Event('change')); return true; })()`, &picked)
		if !picked {
			t.Fatal("Cy's join screen offers one microphone: cannot restart the preview")
		}
		for deadline := time.Now().Add(10 * time.Second); now == "" || now == before; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the preview did not restart with the other microphone within 10 s (stream %q)", now)
			}
			cy.eval(previewID, &now)
		}
		if s := cy.state(); s.Notice != "videofull" {
			t.Errorf("after the preview restarted the join screen's notice is %q, want videofull", s.Notice)
		}
		cy.join()
		cy.setMic(true)
		// The camera button refuses and says why; the camera stays off.
		cy.click("#btn-cam")
		s := cy.waitFor("the video-full toast", 10*time.Second, func(s appState) bool { return strings.Contains(s.Toast, "Video is full") })
		if s.Cam {
			t.Errorf("Cy's camera is on in a room without room for video")
		}
		meshOf(ada, bo, cy)
		cyID := cy.state().SelfID
		for _, p := range []*page{ada, bo} {
			// No camera from Cy: only the 2×2 placeholder arrives, and the
			// roster says camera off; the voice arrives.
			if ok, detail := videoCheck(p, cyID, 0, 0, 10*time.Second); !ok {
				t.Errorf("%s: %s", p.name, detail)
			}
			if ok, detail := hearsCheck(p, cyID, 15*time.Second); !ok {
				t.Errorf("%s does not hear Cy: %s", p.name, detail)
			}
			for _, m := range p.state().Roster {
				if m.ID == cyID && m.Cam {
					t.Errorf("%s sees Cy with the camera on", p.name)
				}
			}
		}
		if n := sentVideoPixels(cy); n > placeholderSize*placeholderSize {
			t.Errorf("Cy sends a %d-pixel camera picture, want only the placeholder", n)
		}
		// Cy still sees and hears the others.
		mediaFlows(cy, 2)
	})
}

// airCall opens n tabs in the hub's default room, joins each with the
// microphone and camera on, and waits for the full mesh.
func airCall(t *testing.T, hub *hubProcess, n int) []*page {
	t.Helper()
	b := newChromium(t, append(slices.Clone(fakeMedia), noiseCamera(t))...)
	var pages []*page
	for i := range n {
		p := b.open(t, string(rune('A'+i))+"-guest", hub.url)
		p.join()
		p.setMic(true)
		p.setCam(true)
		pages = append(pages, p)
	}
	meshOf(pages...)
	for _, p := range pages {
		p.waitFor("every other camera on", 20*time.Second, othersCam(true))
	}
	return pages
}

// noiseCamera makes chromium's fake camera play a 640×480, 20 fps clip of
// moving noise over a gradient. Chromium's built-in fake picture is flat
// and compresses to a few tens of kb/s, far below any budget; noise makes
// the encoders use the bitrate they are allowed, as a real camera's busy
// scene does, so the budget is what limits the call.
func noiseCamera(t *testing.T) chromedp.ExecAllocatorOption {
	t.Helper()
	const w, h, frames = 640, 480, 20
	path := filepath.Join(t.TempDir(), "noise.y4m")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(f)
	fmt.Fprintf(out, "YUV4MPEG2 W%d H%d F20:1 Ip A1:1 C420jpeg\n", w, h)
	rnd := rand.New(rand.NewPCG(1, 2))
	plane := make([]byte, w*h*3/2)
	for i := range frames {
		for y := range h {
			for x := range w {
				plane[y*w+x] = byte((x+y+i*8)/6 + rnd.IntN(64))
			}
		}
		for j := w * h; j < len(plane); j++ {
			plane[j] = byte(128 + rnd.IntN(32) - 16)
		}
		out.WriteString("FRAME\n")
		out.Write(plane)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return chromedp.Flag("use-file-for-fake-video-capture", path)
}

// statusURL is the hub's loopback /status address.
func (h *hubProcess) statusURL(path string) string {
	i := slices.Index(h.args, "--status")
	return "http://" + h.args[i+1] + path
}

func (h *hubProcess) status(t *testing.T) status.Hub {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(h.statusURL("/status"))
	if err != nil {
		t.Fatalf("GET /status: %v", err)
	}
	defer resp.Body.Close()
	var d status.Hub
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("decode /status: %v", err)
	}
	return d
}

// waitVideoFull waits until /status says video_full = want.
func waitVideoFull(t *testing.T, hub *hubProcess, want bool, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := hub.status(t)
		if d.Air == nil {
			t.Fatal("/status has no air section")
		}
		if d.Air.VideoFull == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/status air.video_full = %v, want %v (%s); rooms %+v", d.Air.VideoFull, want, why, d.Rooms)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sentVideoPixels is the largest picture the page's camera lane sends
// (outbound-rtp frame size), over all its links.
func sentVideoPixels(p *page) int {
	var n int
	p.eval(`(async () => {
		let most = 0;
		for (const m of window.__kibitz.state().roster) {
			const l = window.__kibitz.link(m.id);
			if (!l) continue;
			const camera = l.pc.getTransceivers().filter((tr) => tr.sender.track?.kind === 'video' || tr.receiver.track.kind === 'video')[0];
			if (!camera) continue;
			(await camera.sender.getStats()).forEach((s) => {
				if (s.type === 'outbound-rtp' && s.frameWidth) most = Math.max(most, s.frameWidth * s.frameHeight);
			});
		}
		return most;
	})()`, &n)
	return n
}

// sendEstimate is what a page's links say about sending: per link the
// congestion controller's estimate, the round trip, and the encoder target
// of the screen lane, which carries the 2×2 placeholder in these calls.
type sendEstimate struct {
	EstimateBps    []float64 `json:"estimate"`
	RTTSec         []float64 `json:"rtt"`
	PlaceholderBps []float64 `json:"placeholder"`
}

func sendEstimates(p *page) sendEstimate {
	var e sendEstimate
	p.eval(`(async () => {
		const o = { estimate: [], rtt: [], placeholder: [] };
		for (const m of window.__kibitz.state().roster) {
			const l = window.__kibitz.link(m.id);
			if (!l) continue;
			(await l.pc.getStats()).forEach((s) => {
				if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) {
					o.estimate.push(s.availableOutgoingBitrate); o.rtt.push(s.currentRoundTripTime || 0);
				}
			});
			const screen = l.pc.getTransceivers().filter((tr) => tr.receiver.track.kind === 'video')[1];
			if (!screen) continue;
			(await screen.sender.getStats()).forEach((s) => {
				if (s.type === 'outbound-rtp' && s.targetBitrate) o.placeholder.push(s.targetBitrate);
			});
		}
		return o;
	})()`, &e)
	return e
}

// linkStats is what a receiving page gets from one remote: the camera
// lane's decoding and the audio lane's energy.
type linkStats struct {
	Frames     int     `json:"frames"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	Freezes    int     `json:"freezes"`
	FreezeSec  float64 `json:"freezeSec"`
	VideoBytes float64 `json:"videoBytes"`
	AudioBytes float64 `json:"audioBytes"`
	Energy     float64 `json:"energy"`
	AudioSec   float64 `json:"audioSec"`
}

// callProbe reads linkStats for every remote of a page, by the remote's
// name: a page that lost its hub session comes back with a new id.
const callProbe = `(async () => {
	const out = {};
	for (const m of window.__kibitz.state().roster) {
		const l = window.__kibitz.link(m.id);
		if (!l) continue;
		const o = { frames: 0, width: 0, height: 0, fps: 0, freezes: 0, freezeSec: 0, videoBytes: 0, audioBytes: 0, energy: 0, audioSec: 0 };
		let videos = 0;
		for (const tr of l.pc.getTransceivers()) {
			const lane = tr.receiver.track.kind === 'audio' ? 'audio' : (videos++ === 0 ? 'camera' : 'screen');
			if (lane === 'screen') continue;
			(await tr.receiver.getStats()).forEach((s) => {
				if (s.type !== 'inbound-rtp') return;
				if (lane === 'audio') {
					o.energy += s.totalAudioEnergy || 0; o.audioSec += s.totalSamplesDuration || 0; o.audioBytes += s.bytesReceived || 0;
				} else {
					o.frames = s.framesDecoded || 0; o.width = s.frameWidth || 0; o.height = s.frameHeight || 0;
					o.fps = s.framesPerSecond || 0; o.freezes = s.freezeCount || 0; o.freezeSec = s.totalFreezesDuration || 0;
					o.videoBytes = s.bytesReceived || 0;
				}
			});
		}
		out[m.name] = o;
	}
	return out;
})()`

type airSample struct {
	at     time.Duration
	total  float64
	guests map[string]status.AirGuest
}

type pageSample struct {
	at    time.Duration
	links map[string]linkStats
}

// airRecord is what recordAir saw: /status air every 500 ms, and every
// page's receivers about as often.
type airRecord struct {
	pages      []*page
	start, end time.Time
	air        []airSample
	rx         map[string][]pageSample // page name → samples
}

// recordAir samples /status and the pages for d.
func recordAir(t *testing.T, hub *hubProcess, pages []*page, d time.Duration) *airRecord {
	t.Helper()
	r := &airRecord{pages: pages, rx: map[string][]pageSample{}, start: time.Now()}
	end := r.start.Add(d)
	var wg sync.WaitGroup
	var airErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for now := time.Now(); now.Before(end); now = <-tick.C {
			resp, err := client.Get(hub.statusURL("/status"))
			if err != nil {
				airErr = fmt.Errorf("GET /status: %w", err)
				return
			}
			var doc status.Hub
			err = json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if err != nil || doc.Air == nil {
				airErr = fmt.Errorf("/status without an air section (%v)", err)
				return
			}
			s := airSample{at: time.Since(r.start), total: doc.Air.TotalKbps, guests: map[string]status.AirGuest{}}
			for _, g := range doc.Air.Guests {
				s.guests[g.IP] = g
			}
			r.air = append(r.air, s)
		}
	}()
	for time.Now().Before(end) {
		next := time.Now().Add(500 * time.Millisecond)
		for _, p := range pages {
			var links map[string]linkStats
			p.eval(callProbe, &links)
			r.rx[p.name] = append(r.rx[p.name], pageSample{at: time.Since(r.start), links: links})
		}
		time.Sleep(time.Until(next))
	}
	wg.Wait()
	r.end = time.Now()
	if airErr != nil {
		t.Fatal(airErr)
	}
	return r
}

func (r *airRecord) totals() []float64 {
	out := make([]float64, len(r.air))
	for i, s := range r.air {
		out[i] = s.total
	}
	return out
}

// settledAt finds the first /status sample at most within after the start
// from which the samples of the next window have a median within tol of
// budget and none above peak × budget. It says what it found either way.
func settledAt(samples []airSample, budget, tol, peak float64, within, window time.Duration) (time.Duration, bool, string) {
	best := ""
	for i, s := range samples {
		if s.at > within {
			break
		}
		var w []float64
		last := s.at
		for _, o := range samples[i:] {
			if o.at > s.at+window {
				break
			}
			w = append(w, o.total)
			last = o.at
		}
		if last < s.at+window-time.Second {
			break // the record ends before the window does
		}
		med, hi := median(w), slices.Max(w)
		desc := fmt.Sprintf("from %v: median %.0f kb/s, max %.0f kb/s over %d samples", s.at.Round(100*time.Millisecond), med, hi, len(w))
		if med >= budget*(1-tol) && med <= budget*(1+tol) && hi <= budget*peak {
			return s.at, true, desc
		}
		if best == "" || i%4 == 0 {
			best = desc // the last one looked at, as the reason
		}
	}
	if best == "" {
		best = fmt.Sprintf("only %d samples", len(samples))
	}
	return 0, false, best
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// maxDecodeGap is the longest a receiver may go without a new decoded frame.
const maxDecodeGap = 2 * time.Second

// keepsDecoding checks, between from and to (since the record's start),
// that every page decodes new frames from every other page with no gap
// above maxDecodeGap between increases, and that its received audio
// energy rises. It returns one line per failure.
func (r *airRecord) keepsDecoding(from, to time.Duration) []string {
	var errs []string
	for _, p := range r.pages {
		var win []pageSample
		for _, s := range r.rx[p.name] {
			if s.at >= from && s.at <= to {
				win = append(win, s)
			}
		}
		if len(win) < 2 {
			errs = append(errs, fmt.Sprintf("%s: only %d samples between %v and %v", p.name, len(win), from, to))
			continue
		}
		for _, other := range r.pages {
			id, name := other.name, other.name
			if name == p.name {
				continue
			}
			first, ok := win[0].links[id]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s has no link to %s", p.name, name))
				continue
			}
			lastUp, frames, gap := win[0].at, first.Frames, time.Duration(0)
			// probe is the longest time between two samples: a gap is
			// only seen to the precision of the sampling.
			probe := time.Duration(0)
			for i, s := range win[1:] {
				probe = max(probe, s.at-win[i].at)
				if f := s.links[id].Frames; f > frames {
					gap = max(gap, s.at-lastUp)
					lastUp, frames = s.at, f
				}
			}
			gap = max(gap, win[len(win)-1].at-lastUp)
			last := win[len(win)-1].links[id]
			if last.Frames <= first.Frames || gap > maxDecodeGap {
				errs = append(errs, fmt.Sprintf("%s from %s: frames %d→%d, longest gap between new frames %v (want ≤ %v; samples at most %v apart; Chromium counted %d freezes, %.1f s)",
					p.name, name, first.Frames, last.Frames, gap.Round(10*time.Millisecond), maxDecodeGap, probe.Round(10*time.Millisecond), last.Freezes-first.Freezes, last.FreezeSec-first.FreezeSec))
			}
			if last.Energy <= first.Energy || last.AudioSec <= first.AudioSec {
				errs = append(errs, fmt.Sprintf("%s from %s: audio energy %.4g→%.4g over %.1f→%.1f s of samples: no sound",
					p.name, name, first.Energy, last.Energy, first.AudioSec, last.AudioSec))
			}
		}
	}
	return errs
}

// callFigures are the figures of one recorded call.
type callFigures struct {
	totalKbps   float64            // median of /status air total
	guestKbps   map[string]float64 // /status per guest (IP), medians
	sendKbps    map[string]float64 // per person: what the others received from it
	minW, minH  int                // smallest decoded picture at the end
	maxW, maxH  int
	minFPS      float64
	medFPS      float64
	freezes     int     // Chromium freezeCount increases, all receivers
	freezeSec   float64 // their total duration
	gapsOver2s  int     // receiver-remote pairs with a gap over 2 s
	pacingDrops uint64
}

// figures summarises r over its whole length.
func (r *airRecord) figures() callFigures {
	f := callFigures{guestKbps: map[string]float64{}, sendKbps: map[string]float64{}, minW: 1 << 30, minH: 1 << 30}
	f.totalKbps = median(r.totals())
	perGuest := map[string][]float64{}
	for _, s := range r.air {
		for ip, g := range s.guests {
			perGuest[ip] = append(perGuest[ip], g.Kbps)
		}
	}
	for ip, v := range perGuest {
		f.guestKbps[ip] = median(v)
	}
	if len(r.air) > 0 {
		for _, g := range r.air[len(r.air)-1].guests {
			f.pacingDrops += g.Dropped
		}
	}
	var fps []float64
	f.minFPS = 1e9
	for _, p := range r.pages {
		s := r.rx[p.name]
		if len(s) < 2 {
			continue
		}
		a, b := s[0], s[len(s)-1]
		secs := (b.at - a.at).Seconds()
		for _, other := range r.pages {
			name := other.name
			x, okx := a.links[name]
			y, oky := b.links[name]
			if name == p.name || !okx || !oky || y.Frames < x.Frames || y.VideoBytes < x.VideoBytes || y.AudioBytes < x.AudioBytes {
				continue // no link to it at one end, or a new one
			}
			f.sendKbps[name] += (y.VideoBytes + y.AudioBytes - x.VideoBytes - x.AudioBytes) * 8 / 1000 / secs
			f.minW, f.minH = min(f.minW, y.Width), min(f.minH, y.Height)
			f.maxW, f.maxH = max(f.maxW, y.Width), max(f.maxH, y.Height)
			rate := float64(y.Frames-x.Frames) / secs
			fps = append(fps, rate)
			f.minFPS = min(f.minFPS, rate)
			f.freezes += y.Freezes - x.Freezes
			f.freezeSec += y.FreezeSec - x.FreezeSec
		}
	}
	if len(fps) == 0 {
		f.minW, f.minH, f.minFPS = 0, 0, 0
	}
	f.medFPS = median(fps)
	f.gapsOver2s = len(slices.DeleteFunc(r.keepsDecoding(0, r.end.Sub(r.start)), func(e string) bool { return strings.Contains(e, "audio energy") }))
	return f
}

func (f callFigures) String() string {
	var people []string
	for name, kbps := range f.sendKbps {
		people = append(people, fmt.Sprintf("%s %.0f", name, kbps))
	}
	sort.Strings(people)
	var guests []string
	for ip, kbps := range f.guestKbps {
		guests = append(guests, fmt.Sprintf("%s %.0f", ip, kbps))
	}
	sort.Strings(guests)
	return fmt.Sprintf("relayed %.0f kb/s (guests: %s); sent per person kb/s: %s; decoded %dx%d..%dx%d at %.1f fps median, %.1f min; freezes %d (%.1f s), decode gaps > 2 s %d; pacing drops %d",
		f.totalKbps, strings.Join(guests, ", "), strings.Join(people, ", "), f.minW, f.minH, f.maxW, f.maxH, f.medFPS, f.minFPS, f.freezes, f.freezeSec, f.gapsOver2s, f.pacingDrops)
}

func (r *airRecord) logSummary(t *testing.T) {
	t.Helper()
	var totals []string
	for _, s := range r.air {
		totals = append(totals, strconv.Itoa(int(s.total)))
	}
	t.Logf("/status air total, kb/s every 500 ms: %s", strings.Join(totals, " "))
	t.Logf("%s", r.figures())
}

// airBench runs calls of 2, 3 and 4 people without a budget and with
// 3000 kb/s and writes one line of figures for each to out; with a budget
// the line says whether the relayed total settled at it.
func airBench(t *testing.T, out string) {
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, budget := range []int{0, 3000} {
		for _, n := range []int{2, 3, 4} {
			name := fmt.Sprintf("%d people budget %d", n, budget)
			t.Run(name, func(t *testing.T) {
				hub := startHub(t, 8, "--air-budget-kbps", strconv.Itoa(budget))
				pages := airCall(t, hub, n)
				// 30 s from the moment every camera is on: whether and when the
				// total settles (the median of 10 s within ±15 % of the budget,
				// no sample above 1.3 × budget, at most 20 s in), and figures
				// over the whole record.
				rec := recordAir(t, hub, pages, 30*time.Second)
				budgetText, settled := "none", ""
				if budget > 0 {
					budgetText = strconv.Itoa(budget) + " kb/s"
					at, ok, why := settledAt(rec.air, float64(budget), 0.15, 1.3, 20*time.Second, 10*time.Second)
					settled = "; not settled: " + why
					if ok {
						settled = fmt.Sprintf("; settled after %v: %s", at.Round(100*time.Millisecond), why)
					}
				}
				// What held the senders back: each link's congestion
				// estimate and round trip (a starved machine shows long
				// round trips on loopback).
				var est, rtt []float64
				for _, p := range pages {
					e := sendEstimates(p)
					est = append(est, e.EstimateBps...)
					for _, r := range e.RTTSec {
						rtt = append(rtt, r*1000)
					}
				}
				settled += fmt.Sprintf("; per link: estimate median %.0f kb/s, round trip median %.0f ms", median(est)/1000, median(rtt))
				line := fmt.Sprintf("AIR %d people, budget %-9s %s%s", n, budgetText, rec.figures(), settled)
				t.Log(line)
				fmt.Fprintln(f, line)
				for _, p := range pages {
					p.drv.kill()
				}
			})
		}
	}
}

// loadIP is the address of the guest that ignores shaping; its receiving
// allocation is on loadRxIP.
const (
	loadIP   = "127.0.0.2"
	loadRxIP = "127.0.0.3"
)

// turnLoad is a Go TURN client that sends from one allocation to another
// on the hub at a fixed rate, whatever the relay does to it.
type turnLoad struct {
	t        *testing.T
	cancel   context.CancelFunc
	done     chan struct{}
	closers  []func()
	mu       sync.Mutex
	sent     []loadMark // cumulative bytes sent, every 100 ms
	received []loadMark // cumulative bytes received
}

type loadMark struct {
	at    time.Time
	bytes int64
}

// turnClient allocates on the hub's TURN server from ip.
func turnClient(t *testing.T, server, ip string, tc *galaxy.TURN) (net.PacketConn, func()) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server, Conn: conn,
		Username: tc.User, Password: tc.Pass, Realm: galaxy.TURNRealm, LoggerFactory: lf})
	if err != nil {
		t.Fatalf("TURN client on %s: %v", ip, err)
	}
	if err := c.Listen(); err != nil {
		t.Fatalf("TURN client on %s: listen: %v", ip, err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate on %s from %s: %v", server, ip, err)
	}
	return relay, func() { relay.Close(); c.Close(); conn.Close() }
}

// startTURNLoad allocates for loadIP and loadRxIP and sends bps of
// 1200-byte datagrams from the first to the second until stop.
func startTURNLoad(t *testing.T, hub *hubProcess, bps float64) *turnLoad {
	t.Helper()
	blob, err := galaxy.ParseBlob(hub.join().Blob)
	if err != nil || blob.TURN == nil || len(blob.Endpoints) == 0 {
		t.Fatalf("the hub's blob has no TURN server: %v", err)
	}
	// The TURN server listens on every address; to a loopback client it
	// answers from 127.0.0.1, so that is the address the clients use.
	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(blob.TURN.Port))
	tx, closeTx := turnClient(t, server, loadIP, blob.TURN)
	rx, closeRx := turnClient(t, server, loadRxIP, blob.TURN)
	l := &turnLoad{t: t, done: make(chan struct{}), closers: []func(){closeTx, closeRx}}
	var got atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := rx.ReadFrom(buf)
			if err != nil {
				return
			}
			got.Add(int64(n))
		}
	}()
	// Permissions both ways (each side writes to the other), then the
	// client binds a channel, the path the relay shapes.
	hello := []byte("hello")
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the load client's datagrams never reached the receiving allocation")
		}
		_, _ = rx.WriteTo(hello, tx.LocalAddr())
		_, _ = tx.WriteTo(hello, rx.LocalAddr())
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go func() {
		defer close(l.done)
		pkt := make([]byte, 1200)
		start := time.Now()
		// due is what the rate asks for so far; a sender starved of CPU
		// skips what it missed beyond 20 ms rather than bursting it.
		var sent, due int64
		maxBehind := int64(bps / 8 * 0.020)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		lastMark := start
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				want := int64(bps / 8 * now.Sub(start).Seconds())
				due = max(due, want-maxBehind)
				for ; due < want; due += int64(len(pkt)) {
					_, _ = tx.WriteTo(pkt, rx.LocalAddr())
					sent += int64(len(pkt))
				}
				if now.Sub(lastMark) >= 100*time.Millisecond {
					lastMark = now
					l.mu.Lock()
					l.sent = append(l.sent, loadMark{now, sent})
					l.received = append(l.received, loadMark{now, got.Load()})
					l.mu.Unlock()
				}
			}
		}
	}()
	return l
}

func (l *turnLoad) stop() {
	l.cancel()
	<-l.done
	for _, c := range l.closers {
		c()
	}
}

// rate is the rate between from and to of a cumulative series, in b/s.
func rateOf(marks []loadMark, from, to time.Time) float64 {
	var a, b *loadMark
	for i := range marks {
		m := &marks[i]
		if a == nil && !m.at.Before(from) {
			a = m
		}
		if !m.at.After(to) {
			b = m
		}
	}
	if a == nil || b == nil || !b.at.After(a.at) {
		return 0
	}
	return float64(b.bytes-a.bytes) * 8 / b.at.Sub(a.at).Seconds()
}

func (l *turnLoad) deliveredBps(from, to time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rateOf(l.received, from, to)
}

func (l *turnLoad) offeredBps(from, to time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return rateOf(l.sent, from, to)
}
