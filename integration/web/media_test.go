package web

import (
	"fmt"
	"strconv"
	"time"
)

// The media checks: what a receiving page really gets from one sender.
// Each returns whether it holds and what it saw, so a test can assert the
// negative too (a muted sender must make the audio check fail, a camera
// that is off must make the video check fail).

// mediaProbe reads, in the receiving page, the inbound audio energy and
// the decoded camera size of the link to one peer (the receivers in
// m-line order: audio, camera, screen) and the selected candidate pair.
const mediaProbe = `(async (id) => {
	const l = window.__kibitz.link(id);
	if (!l) return null;
	const out = { state: l.pc.connectionState, energy: 0, duration: 0, width: 0, height: 0, frames: 0, relay: false };
	let videos = 0;
	for (const tr of l.pc.getTransceivers()) {
		const kind = tr.receiver.track.kind;
		const lane = kind === 'audio' ? 'audio' : (videos++ === 0 ? 'camera' : 'screen');
		if (lane === 'screen') continue;
		(await tr.receiver.getStats()).forEach((s) => {
			if (s.type !== 'inbound-rtp') return;
			if (lane === 'audio') { out.energy += s.totalAudioEnergy || 0; out.duration += s.totalSamplesDuration || 0; }
			else { out.width = s.frameWidth || 0; out.height = s.frameHeight || 0; out.frames = s.framesDecoded || 0; }
		});
	}
	const all = new Map();
	(await l.pc.getStats()).forEach((s) => all.set(s.id, s));
	for (const s of all.values()) {
		const selected = s.type === 'transport' && s.selectedCandidatePairId ? all.get(s.selectedCandidatePairId) : null;
		const pair = selected || (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' ? s : null);
		if (!pair) continue;
		out.relay = all.get(pair.localCandidateId)?.candidateType === 'relay' && all.get(pair.remoteCandidateId)?.candidateType === 'relay';
	}
	return out;
})`

type mediaSample struct {
	State    string  `json:"state"`
	Energy   float64 `json:"energy"`
	Duration float64 `json:"duration"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Frames   int     `json:"frames"`
	Relay    bool    `json:"relay"`
}

func (p *page) media(peer string) mediaSample {
	p.t.Helper()
	var s *mediaSample
	p.eval(mediaProbe+`(`+strconv.Quote(peer)+`)`, &s)
	if s == nil {
		return mediaSample{}
	}
	return *s
}

// audibleLevel is the mean audio power (the unit of totalAudioEnergy per
// second, level² with 1 = full scale) above which a sender counts as
// heard: Chromium's fake microphone beeps, Firefox's plays a steady tone,
// both far above it; a muted (disabled) track sends digital silence, 0.
const audibleLevel = 1e-3

// audioPower is the mean audio power p receives from peer over about 2 s.
func audioPower(p *page, peer string) (float64, mediaSample) {
	p.t.Helper()
	a := p.media(peer)
	time.Sleep(2 * time.Second)
	b := p.media(peer)
	if b.Duration <= a.Duration {
		return 0, b
	}
	return (b.Energy - a.Energy) / (b.Duration - a.Duration), b
}

// hearsCheck reports whether p hears peer within timeout: the received
// audio power rises above audibleLevel.
func hearsCheck(p *page, peer string, timeout time.Duration) (bool, string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		power, s := audioPower(p, peer)
		if power > audibleLevel {
			return true, fmt.Sprintf("audio power %.3g from %s", power, peer)
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("audio power %.3g from %s (want > %g): %+v", power, peer, audibleLevel, s)
		}
	}
}

// silentCheck reports whether what p receives from peer goes silent within
// 10 s (what was sent before a mute plays out first) and then stays at
// silence for two more windows in a row.
func silentCheck(p *page, peer string) (bool, string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	quiet := 0
	for quiet < 3 {
		power, s := audioPower(p, peer)
		switch {
		case s.Duration == 0:
			return false, fmt.Sprintf("no audio samples from %s: %+v", peer, s)
		case power <= audibleLevel:
			quiet++
		case quiet > 0 || time.Now().After(deadline):
			return false, fmt.Sprintf("audio power %.3g from %s, want silence", power, peer)
		}
	}
	return true, "silence from " + peer
}

// cameraSize is the size of sender's own camera capture.
func cameraSize(sender *page) (w, h int) {
	sender.t.Helper()
	var size struct{ W, H int }
	sender.eval(`(() => { const c = window.__kibitz.camera(); const s = c ? c.getSettings() : {}; return { W: s.width || 0, H: s.height || 0 }; })()`, &size)
	return size.W, size.H
}

// placeholderSize is the black canvas a lane sends while the camera is off.
const placeholderSize = 2

// videoCheck reports whether p decodes peer's camera at least at
// width×height (a camera that is on) or at the placeholder's size (want
// 0×0: the camera is off), with frames still arriving.
func videoCheck(p *page, peer string, width, height int, timeout time.Duration) (bool, string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	first := p.media(peer)
	for {
		time.Sleep(time.Second)
		s := p.media(peer)
		flowing := s.Frames > first.Frames
		var ok bool
		if width == 0 {
			ok = flowing && s.Width == placeholderSize && s.Height == placeholderSize
		} else {
			ok = flowing && s.Width >= width && s.Height >= height
		}
		if ok {
			return true, fmt.Sprintf("decoding %dx%d from %s (%d frames)", s.Width, s.Height, peer, s.Frames)
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("decoding %dx%d from %s (frames %d→%d), want %dx%d or more", s.Width, s.Height, peer, first.Frames, s.Frames, max(width, placeholderSize), max(height, placeholderSize))
		}
		first = s
	}
}

// tileSamples draws the video of peer's tile into a small canvas and
// returns a fingerprint of its pixels (empty while the video has no frame).
func tileSample(p *page, peer string) string {
	p.t.Helper()
	var fp string
	p.eval(`(() => {
		const v = document.querySelector('#grid .tile[data-id=' + JSON.stringify(`+strconv.Quote(peer)+`) + '] video');
		if (!v || v.videoWidth === 0) return '';
		const c = document.createElement('canvas');
		c.width = 64; c.height = 48;
		const ctx = c.getContext('2d');
		ctx.drawImage(v, 0, 0, 64, 48);
		const d = ctx.getImageData(0, 0, 64, 48).data;
		let h = 0, sum = 0;
		for (let i = 0; i < d.length; i++) { h = (h * 31 + d[i]) >>> 0; sum += d[i]; }
		return sum === 0 ? 'black' : h.toString(16);
	})()`, &fp)
	return fp
}

// pictureMovesCheck reports whether peer's tile on p shows a picture that
// changes over time (not black, not frozen): three different samples.
func pictureMovesCheck(p *page, peer string, timeout time.Duration) (bool, string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	seen := map[string]bool{}
	var last string
	for {
		s := tileSample(p, peer)
		if s != "" && s != "black" {
			seen[s] = true
		}
		last = s
		if len(seen) >= 3 {
			return true, fmt.Sprintf("%d different pictures in %s's tile", len(seen), peer)
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("%s's tile showed %d different pictures (last %q)", peer, len(seen), last)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// seesAndHears asserts that p sees sender's camera (full size, moving) and
// hears its microphone, over a relay/relay pair.
func seesAndHears(p, sender *page) {
	p.t.Helper()
	id := sender.state().SelfID
	w, h := cameraSize(sender)
	if w == 0 || h == 0 {
		p.t.Fatalf("%s's camera reports no size", sender.name)
	}
	for _, check := range []func() (bool, string){
		func() (bool, string) { return videoCheck(p, id, w, h, 20*time.Second) },
		func() (bool, string) { return pictureMovesCheck(p, id, 10*time.Second) },
		func() (bool, string) { return hearsCheck(p, id, 15*time.Second) },
	} {
		ok, detail := check()
		if !ok {
			p.t.Fatalf("%s (%s) from %s (%s): %s", p.name, p.drv.engine(), sender.name, sender.drv.engine(), detail)
		}
		p.t.Logf("%s (%s) from %s (%s): %s", p.name, p.drv.engine(), sender.name, sender.drv.engine(), detail)
	}
	if s := p.media(id); !s.Relay {
		p.t.Errorf("%s: the selected pair to %s is not relay/relay: %+v", p.name, sender.name, s)
	}
}
