package main

// Benchmarks: join latency, frame routing latency/throughput, fan-in scale,
// TURN relay throughput. Every phase is bounded in time and count.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type benchCfg struct {
	blob     *Blob
	pid      int
	joins    int
	latN     int
	latRate  int
	tputDur  time.Duration
	tputWin  int
	sizes    []int
	fanPeers []int
	fanRate  float64
	fanPoll  time.Duration
	fanDur   time.Duration
	fanConc  int
	turnMbps []float64
	turnDur  time.Duration
	turnPkt  int
}

// BenchReport is the --json document.
type BenchReport struct {
	Blob    string        `json:"blob"`
	HubPID  int           `json:"hub_pid,omitempty"`
	Started time.Time     `json:"started"`
	CPUs    int           `json:"cpus"`
	Join    *JoinResult   `json:"join,omitempty"`
	Route   []RouteResult `json:"route,omitempty"`
	FanIn   []FanInResult `json:"fanin,omitempty"`
	TURN    *TURNResult   `json:"turn,omitempty"`
	Errors  []string      `json:"errors,omitempty"`
	HubIdle *ProcDelta    `json:"hub_total,omitempty"`
}

// JoinResult is phase (a): sequential joins.
type JoinResult struct {
	K       int        `json:"k"`
	Failed  int        `json:"failed"`
	Total   Summary    `json:"total"`    // PeerConnection creation -> id frame
	ICE     Summary    `json:"ice"`      // creation -> ICE connected (pion paces checks at 200 ms)
	PostICE Summary    `json:"post_ice"` // ICE connected -> id frame: DTLS + SCTP + DCEP + hub
	Hub     *ProcDelta `json:"hub,omitempty"`
}

// RouteResult is phase (b) for one frame size.
type RouteResult struct {
	FrameBytes    int        `json:"frame_bytes"`
	Latency       Summary    `json:"latency"` // one-way, paced
	LatRate       int        `json:"latency_rate_fps"`
	Window        int        `json:"window_frames"`
	SentPerSec    float64    `json:"sent_fps"`
	DeliveredPS   float64    `json:"delivered_fps"` // during the send window
	DeliveredMbps float64    `json:"delivered_mbps"`
	Backlog       int64      `json:"backlog_at_window_end"`
	Lost          int64      `json:"lost_after_drain"`
	LoadedLatency Summary    `json:"loaded_latency"`
	Hub           *ProcDelta `json:"hub,omitempty"`
	SelfCPUPct    float64    `json:"harness_cpu_pct"`
	KernelDrops   int64      `json:"kernel_udp_rcvbuf_drops"` // netns-wide /proc/net/snmp delta
}

// FanInResult is phase (c) for one peer count.
type FanInResult struct {
	Peers        int        `json:"peers"`
	Connected    int        `json:"connected"`
	ConnectSecs  float64    `json:"connect_s"`
	JoinLatency  Summary    `json:"join_latency"`
	HubConnect   *ProcDelta `json:"hub_connect,omitempty"`
	RatePerPeer  float64    `json:"rate_per_peer_fps"`
	Sent         int64      `json:"sent"`
	Delivered    int64      `json:"delivered"`
	OfferedPS    float64    `json:"offered_fps"`
	DeliveredPS  float64    `json:"delivered_fps"`
	LossPct      float64    `json:"loss_pct"`
	PeersPolls   int64      `json:"peers_replies"`
	PeersLatency Summary    `json:"peers_rtt"`
	Latency      Summary    `json:"latency"`
	Hub          *ProcDelta `json:"hub,omitempty"`
	SelfCPUPct   float64    `json:"harness_cpu_pct"`
}

// TURNResult is phase (d): two allocations and one step per offered rate.
type TURNResult struct {
	Server   string     `json:"server"`
	RelayA   string     `json:"relay_a"`
	RelayB   string     `json:"relay_b"`
	AllocMs  float64    `json:"alloc_ms"`
	PktBytes int        `json:"packet_bytes"`
	Steps    []TURNStep `json:"steps"`
	Error    string     `json:"error,omitempty"`
}

// TURNStep is one offered rate of phase (d).
type TURNStep struct {
	OfferedMbps  float64    `json:"offered_mbps"` // 0 = unpaced
	SentMbps     float64    `json:"sent_mbps"`
	RecvMbps     float64    `json:"recv_mbps"`
	SentPkts     int64      `json:"sent_pkts"`
	RecvPkts     int64      `json:"recv_pkts"`
	LossPct      float64    `json:"loss_pct"`
	Latency      Summary    `json:"latency"`
	Hub          *ProcDelta `json:"hub,omitempty"`
	SelfCPUPct   float64    `json:"harness_cpu_pct"`
	KernelDrops  int64      `json:"kernel_udp_rcvbuf_drops"` // netns-wide /proc/net/snmp delta
	HarnessError string     `json:"error,omitempty"`
}

// parseInts reads a comma-separated flag value, skipping entries that are
// not integers.
func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// parseFloats is parseInts for numbers with a fraction.
func parseFloats(s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// runBench runs the selected benchmark phases and prints a table for each.
func runBench(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	blobS := fs.String("blob", "", "hub blob (raw, link, 'BLOB …' line, or @file)")
	pid := fs.Int("pid", 0, "hub process id for CPU/RSS accounting (/proc/PID)")
	only := fs.String("only", "join,route,fanin,turn", "phases to run")
	jsonFlag := fs.Bool("json", false, "print the JSON report after the table")
	jsonOut := fs.String("json-out", "", "write the JSON report to this file")
	c := benchCfg{}
	fs.IntVar(&c.joins, "joins", 30, "(a) sequential joins")
	fs.IntVar(&c.latN, "lat-n", 1000, "(b) paced frames per latency run")
	fs.IntVar(&c.latRate, "lat-rate", 500, "(b) frames/s for the latency run")
	fs.DurationVar(&c.tputDur, "tput-dur", 5*time.Second, "(b) saturation window per size")
	fs.IntVar(&c.tputWin, "tput-window", 256, "(b) max frames in flight (sent, not yet delivered) during saturation; 0 = only bufferedAmount backpressure")
	sizes := fs.String("sizes", "100,8192", "(b) frame sizes in bytes")
	fan := fs.String("fanin-peers", "10,50,200", "(c) peer counts")
	fs.Float64Var(&c.fanRate, "fanin-rate", 5, "(c) 'to' frames/s sent by each peer")
	fs.DurationVar(&c.fanPoll, "fanin-poll", time.Second, "(c) 'peers' poll interval per peer")
	fs.DurationVar(&c.fanDur, "fanin-dur", 10*time.Second, "(c) steady-state window")
	fs.IntVar(&c.fanConc, "fanin-conc", 8, "(c) concurrent connection attempts while ramping up")
	turnR := fs.String("turn-mbps", "10,50,200,400,0", "(d) offered rates in Mb/s (0 = unpaced)")
	fs.DurationVar(&c.turnDur, "turn-dur", 3*time.Second, "(d) seconds per rate step")
	fs.IntVar(&c.turnPkt, "turn-pkt", 1200, "(d) UDP payload bytes")
	_ = fs.Parse(args)
	b, err := LoadBlob(*blobS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubprobe:", err)
		return 2
	}
	c.blob, c.pid = b, *pid
	c.sizes, c.fanPeers, c.turnMbps = parseInts(*sizes), parseInts(*fan), parseFloats(*turnR)
	phases := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		phases[strings.TrimSpace(p)] = true
	}
	rep := &BenchReport{Blob: b.Raw, HubPID: c.pid, Started: time.Now(), CPUs: runtime.NumCPU()}
	total := watchProc(c.pid)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	fmt.Printf("hub %s endpoints %v turn=%v pid=%d cpus=%d\n", b.Version, b.Endpoints, b.HasTURN(), c.pid, rep.CPUs)

	if phases["join"] {
		rep.Join = benchJoin(ctx, c)
		printJoin(rep.Join)
	}
	if phases["route"] {
		for _, sz := range c.sizes {
			r, err := benchRoute(ctx, c, sz)
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("route %d: %v", sz, err))
				fmt.Println("route error:", err)
				continue
			}
			rep.Route = append(rep.Route, *r)
		}
		printRoute(rep.Route)
	}
	if phases["fanin"] {
		for _, n := range c.fanPeers {
			r, err := benchFanIn(ctx, c, n)
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("fanin %d: %v", n, err))
				fmt.Println("fan-in error:", err)
			}
			if r != nil {
				rep.FanIn = append(rep.FanIn, *r)
			}
		}
		printFanIn(rep.FanIn)
	}
	if phases["turn"] {
		if !b.HasTURN() {
			rep.Errors = append(rep.Errors, "turn: blob has no TURN spec (g1)")
		} else {
			rep.TURN = benchTURN(c)
			printTURN(rep.TURN)
		}
	}
	rep.HubIdle = total.Stop()
	if rep.HubIdle != nil {
		fmt.Printf("\nhub process over the whole run: %s, threads %d\n", rep.HubIdle, rep.HubIdle.Threads)
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubprobe: encode report:", err)
		return 1
	}
	if *jsonFlag {
		fmt.Println(string(raw))
	}
	if *jsonOut != "" {
		if err := os.WriteFile(*jsonOut, raw, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "hubprobe:", err)
			return 1
		}
	}
	if len(rep.Errors) > 0 {
		fmt.Println("errors:", strings.Join(rep.Errors, "; "))
		return 1
	}
	return 0
}

// (a) join latency

func benchJoin(ctx context.Context, c benchCfg) *JoinResult {
	w := watchProc(c.pid)
	var tot, ice, post []time.Duration
	failed := 0
	for i := 0; i < c.joins; i++ {
		p, err := Dial(ctx, c.blob, DialOpts{Quiet: true})
		if err != nil {
			failed++
			continue
		}
		tot = append(tot, p.JoinTime)
		ice = append(ice, p.ICEDone)
		post = append(post, p.JoinTime-p.ICEDone)
		p.Close()
	}
	return &JoinResult{K: c.joins, Failed: failed, Total: summarize(tot), ICE: summarize(ice), PostICE: summarize(post), Hub: w.Stop()}
}

func printJoin(r *JoinResult) {
	fmt.Printf("\n(a) join latency, %d sequential joins (%d failed)\n", r.K, r.Failed)
	fmt.Printf("  %-28s %8s %8s %8s %8s\n", "", "min ms", "p50 ms", "p99 ms", "max ms")
	for _, row := range []struct {
		n string
		s Summary
	}{{"create -> id frame", r.Total}, {"  create -> ICE connected", r.ICE}, {"  ICE -> id (DTLS+SCTP+hub)", r.PostICE}} {
		fmt.Printf("  %-28s %8.2f %8.2f %8.2f %8.2f\n", row.n, row.s.MinMs, row.s.P50Ms, row.s.P99Ms, row.s.MaxMs)
	}
	if r.Hub != nil {
		fmt.Printf("  hub: %s\n", r.Hub)
	}
}

// (b) routing

// frameWithPad builds a 'to' frame of roughly size bytes.
func frameWithPad(to int, seq, ts int64, size int) []byte {
	base := fmt.Sprintf(`{"t":"to","id":%d,"payload":{"s":%d,"ts":%d,"p":""}}`, to, seq, ts)
	pad := size - len(base)
	if pad < 0 {
		pad = 0
	}
	return []byte(fmt.Sprintf(`{"t":"to","id":%d,"payload":{"s":%d,"ts":%d,"p":"%s"}}`, to, seq, ts, strings.Repeat("x", pad)))
}

// monoBase is the process's time origin, set once at start; frame and
// packet timestamps are monotonic nanoseconds since it, so one-way latency
// needs no clock synchronisation (sender and receiver share the process).
var monoBase = time.Now()

func mono() int64 { return int64(time.Since(monoBase)) }

func benchRoute(ctx context.Context, c benchCfg, size int) (*RouteResult, error) {
	room := randRoom("bench")
	var recv atomic.Int64
	lat := &latRec{}
	loaded := &latRec{}
	var phase atomic.Int32 // 1 = paced latency, 2 = saturation
	onFrame := func(_ *Peer, f Frame) {
		if f.T != "from" {
			return
		}
		var pl struct {
			S  int64 `json:"s"`
			TS int64 `json:"ts"`
		}
		if json.Unmarshal(f.Payload, &pl) != nil {
			return
		}
		d := time.Duration(int64(f.At.Sub(monoBase)) - pl.TS)
		switch phase.Load() {
		case 1:
			lat.add(d)
		case 2:
			if pl.S%16 == 0 {
				loaded.add(d)
			}
		}
		recv.Add(1)
	}
	A, err := Dial(ctx, c.blob, DialOpts{Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	defer A.Close()
	B, err := Dial(ctx, c.blob, DialOpts{Quiet: true, OnFrame: onFrame})
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	defer B.Close()
	if err := joinAll(room, A); err != nil {
		return nil, fmt.Errorf("sender join: %w", err)
	}
	_ = B.Join(room)
	time.Sleep(50 * time.Millisecond) // B's frames go to OnFrame, so no echo barrier for B
	ps, err := A.Peers(3 * time.Second)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", room, err)
	}
	if !contains(ps, B.ID) {
		return nil, fmt.Errorf("peer B (%d) not in room %s: peers %v", B.ID, room, ps)
	}
	res := &RouteResult{FrameBytes: len(frameWithPad(B.ID, 0, mono(), size)), LatRate: c.latRate, Window: c.tputWin}

	// paced latency
	phase.Store(1)
	iv := time.Second / time.Duration(c.latRate)
	next := time.Now()
	for i := 0; i < c.latN; i++ {
		if err := A.SendRaw(frameWithPad(B.ID, int64(i), mono(), size), false); err != nil {
			return nil, fmt.Errorf("paced frame %d: %w (A pc %s dc %s; B pc %s dc %s)", i, err,
				A.ConnState(), A.dc.ReadyState(), B.ConnState(), B.dc.ReadyState())
		}
		next = next.Add(iv)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	waitCount(&recv, int64(c.latN), 3*time.Second)
	res.Latency = lat.summary()

	// saturation: keep A's send buffer topped up for tputDur
	recv.Store(0)
	phase.Store(2)
	w := watchProc(c.pid)
	const hi = 256 << 10
	A.dc.SetBufferedAmountLowThreshold(hi / 2)
	low := make(chan struct{}, 1)
	A.dc.OnBufferedAmountLow(func() {
		select {
		case low <- struct{}{}:
		default:
		}
	})
	var sent int64
	drops0 := udpDrops()
	cpu0 := selfCPU()
	t0 := time.Now()
	end := t0.Add(c.tputDur)
	for time.Now().Before(end) {
		if c.tputWin > 0 && sent-recv.Load() >= int64(c.tputWin) {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		if A.Buffered() > hi {
			select {
			case <-low:
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if err := A.SendRaw(frameWithPad(B.ID, sent, mono(), size), false); err != nil {
			return nil, fmt.Errorf("saturation frame %d (delivered %d): %w (A pc %s dc %s; B pc %s dc %s)", sent, recv.Load(), err,
				A.ConnState(), A.dc.ReadyState(), B.ConnState(), B.dc.ReadyState())
		}
		sent++
	}
	el := time.Since(t0).Seconds()
	inWindow := recv.Load()
	res.SelfCPUPct = round1(100 * (selfCPU() - cpu0) / el)
	res.SentPerSec = round1(float64(sent) / el)
	res.DeliveredPS = round1(float64(inWindow) / el)
	res.DeliveredMbps = round1(float64(inWindow) * float64(res.FrameBytes) * 8 / el / 1e6)
	res.Backlog = sent - inWindow
	waitCount(&recv, sent, 10*time.Second)
	res.Lost = sent - recv.Load()
	res.KernelDrops = udpDrops() - drops0
	res.LoadedLatency = loaded.summary()
	res.Hub = w.Stop()
	phase.Store(0)
	return res, nil
}

// waitCount waits until *n reaches want or stops growing for a while.
func waitCount(n *atomic.Int64, want int64, max time.Duration) {
	deadline := time.Now().Add(max)
	last, lastChange := n.Load(), time.Now()
	for time.Now().Before(deadline) && n.Load() < want {
		time.Sleep(10 * time.Millisecond)
		if v := n.Load(); v != last {
			last, lastChange = v, time.Now()
		} else if time.Since(lastChange) > 2*time.Second {
			return
		}
	}
}

func printRoute(rs []RouteResult) {
	fmt.Printf("\n(b) frame routing A->hub->B, one room\n")
	fmt.Printf("  %7s | %-28s | %9s %10s %8s %8s %6s | %s\n", "frame B", "one-way ms (paced)", "sent/s", "deliv/s", "Mb/s", "backlog", "lost", "loaded p50/p99 ms")
	for _, r := range rs {
		fmt.Printf("  %7d | p50 %6.3f p99 %6.3f @%4d/s | %9.0f %10.0f %8.1f %8d %6d | %.1f / %.1f\n", r.FrameBytes, r.Latency.P50Ms, r.Latency.P99Ms, r.LatRate,
			r.SentPerSec, r.DeliveredPS, r.DeliveredMbps, r.Backlog, r.Lost, r.LoadedLatency.P50Ms, r.LoadedLatency.P99Ms)
		if r.Hub != nil {
			fmt.Printf("          hub during saturation: %s; harness %.0f%% CPU; kernel UDP rcvbuf drops %d\n", r.Hub, r.SelfCPUPct, r.KernelDrops)
		}
	}
}

// (c) fan-in

type fanPeer struct {
	p       *Peer
	members atomic.Pointer[[]int]
	pollAt  atomic.Int64
}

func selfCPU() float64 {
	s, err := readProc(os.Getpid())
	if err != nil {
		return 0
	}
	return s.CPU
}

func benchFanIn(ctx context.Context, c benchCfg, n int) (*FanInResult, error) {
	room := randRoom("fan")
	res := &FanInResult{Peers: n, RatePerPeer: c.fanRate}
	var delivered, polls atomic.Int64
	var running atomic.Bool
	lat, plat := &latRec{}, &latRec{}
	fps := make([]*fanPeer, n)
	for i := range fps {
		fps[i] = &fanPeer{}
	}
	onFrame := func(i int) func(*Peer, Frame) {
		return func(_ *Peer, f Frame) {
			switch f.T {
			case "from":
				var pl struct {
					TS int64 `json:"ts"`
				}
				if json.Unmarshal(f.Payload, &pl) == nil && pl.TS > 0 {
					if running.Load() {
						lat.add(time.Duration(int64(f.At.Sub(monoBase)) - pl.TS))
					}
					delivered.Add(1)
				}
			case "peers":
				ids := f.IDs
				fps[i].members.Store(&ids)
				polls.Add(1)
				if t := fps[i].pollAt.Load(); t > 0 {
					plat.add(time.Duration(int64(f.At.Sub(monoBase)) - t))
				}
			}
		}
	}

	// ramp up
	wc := watchProc(c.pid)
	t0 := time.Now()
	sem := make(chan struct{}, c.fanConc)
	var wg sync.WaitGroup
	var joinTimes latRec
	var failMu sync.Mutex
	var firstErr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := Dial(ctx, c.blob, DialOpts{Quiet: true, Timeout: 20 * time.Second, OnFrame: onFrame(i)})
			if err != nil {
				failMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				failMu.Unlock()
				return
			}
			joinTimes.add(p.JoinTime)
			_ = p.Join(room)
			fps[i].p = p
		}(i)
	}
	wg.Wait()
	res.ConnectSecs = round3(time.Since(t0).Seconds())
	res.HubConnect = wc.Stop()
	res.JoinLatency = joinTimes.summary()
	var live []*fanPeer
	for _, fp := range fps {
		if fp.p != nil {
			live = append(live, fp)
		}
	}
	res.Connected = len(live)
	defer func() {
		for _, fp := range live {
			fp.p.Close()
		}
		time.Sleep(500 * time.Millisecond)
	}()
	if len(live) < 2 {
		return res, fmt.Errorf("only %d/%d peers connected: %v", len(live), n, firstErr)
	}
	// wait until everyone sees the full room once
	time.Sleep(200 * time.Millisecond)
	for _, fp := range live {
		fp.pollAt.Store(mono())
		_ = fp.p.Send(map[string]any{"t": "peers"})
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		full := 0
		for _, fp := range live {
			if m := fp.members.Load(); m != nil && len(*m) >= len(live) {
				full++
			}
		}
		if full == len(live) {
			break
		}
		time.Sleep(100 * time.Millisecond)
		for _, fp := range live {
			if m := fp.members.Load(); m == nil || len(*m) < len(live) {
				fp.pollAt.Store(mono())
				_ = fp.p.Send(map[string]any{"t": "peers"})
			}
		}
	}
	delivered.Store(0)
	polls.Store(0)

	// steady state
	var sent atomic.Int64
	w := watchProc(c.pid)
	cpu0 := selfCPU()
	running.Store(true)
	ts0 := time.Now()
	stop := make(chan struct{})
	var swg sync.WaitGroup
	for i, fp := range live {
		swg.Add(1)
		go func(i int, fp *fanPeer) {
			defer swg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			iv := time.Duration(float64(time.Second) / c.fanRate)
			time.Sleep(time.Duration(rng.Int64N(int64(iv)))) // stagger
			tick := time.NewTicker(iv)
			defer tick.Stop()
			poll := time.NewTicker(c.fanPoll)
			defer poll.Stop()
			seq := int64(0)
			for {
				select {
				case <-stop:
					return
				case <-poll.C:
					fp.pollAt.Store(mono())
					_ = fp.p.Send(map[string]any{"t": "peers"})
				case <-tick.C:
					m := fp.members.Load()
					if m == nil || len(*m) < 2 {
						continue
					}
					var dst int
					for {
						dst = (*m)[rng.IntN(len(*m))]
						if dst != fp.p.ID {
							break
						}
					}
					seq++
					if fp.p.SendRaw(frameWithPad(dst, seq, mono(), 100), false) == nil {
						sent.Add(1)
					}
				}
			}
		}(i, fp)
	}
	time.Sleep(c.fanDur)
	close(stop)
	swg.Wait()
	el := time.Since(ts0).Seconds()
	waitCount(&delivered, sent.Load(), 5*time.Second)
	running.Store(false)
	res.Hub = w.Stop()
	res.SelfCPUPct = round1(100 * (selfCPU() - cpu0) / el)
	res.Sent, res.Delivered = sent.Load(), delivered.Load()
	res.OfferedPS = round1(float64(res.Sent) / el)
	res.DeliveredPS = round1(float64(res.Delivered) / el)
	if res.Sent > 0 {
		res.LossPct = round3(100 * float64(res.Sent-res.Delivered) / float64(res.Sent))
	}
	res.PeersPolls = polls.Load()
	res.PeersLatency = plat.summary()
	res.Latency = lat.summary()
	return res, nil
}

func printFanIn(rs []FanInResult) {
	fmt.Printf("\n(c) fan-in: P peers in one room, each sending 'to' random members + polling 'peers'\n")
	fmt.Printf("  %5s %5s %8s %9s | %8s %8s %7s | %-17s %-17s | %s\n", "peers", "conn", "ramp s", "join p50", "offer/s", "deliv/s", "loss %", "to p50/p99 ms", "peers p50/p99 ms", "hub")
	for _, r := range rs {
		hub := "-"
		if r.Hub != nil {
			hub = r.Hub.String()
		}
		fmt.Printf("  %5d %5d %8.2f %9.1f | %8.1f %8.1f %7.3f | %7.2f / %-7.2f %7.2f / %-7.2f | %s\n", r.Peers, r.Connected, r.ConnectSecs, r.JoinLatency.P50Ms,
			r.OfferedPS, r.DeliveredPS, r.LossPct, r.Latency.P50Ms, r.Latency.P99Ms, r.PeersLatency.P50Ms, r.PeersLatency.P99Ms, hub)
		if r.HubConnect != nil {
			fmt.Printf("        ramp-up hub: %s; harness used %.0f%% CPU in steady state\n", r.HubConnect, r.SelfCPUPct)
		}
	}
}
