package main

// Protocol conformance suite for any hub speaking the blob/frame protocol.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
)

type checkResult struct {
	Name   string  `json:"name"`
	Status string  `json:"status"` // PASS, FAIL, INFO
	Detail string  `json:"detail"`
	Secs   float64 `json:"secs"`
}

type suite struct {
	ctx     context.Context
	blob    *Blob
	results []checkResult
	opts    DialOpts
	room    string // room that replacement peers (after a fatal frame) rejoin
}

func (s *suite) record(name, status, detail string, t0 time.Time) {
	r := checkResult{Name: name, Status: status, Detail: detail, Secs: round3(time.Since(t0).Seconds())}
	s.results = append(s.results, r)
	fmt.Printf("%-4s  %-34s %s\n", status, name, detail)
}

// check runs fn; fn returns pass and a detail line.
func (s *suite) check(name string, fn func() (bool, string)) bool {
	t0 := time.Now()
	ok, detail := fn()
	st := "FAIL"
	if ok {
		st = "PASS"
	}
	s.record(name, st, detail, t0)
	return ok
}

func (s *suite) info(name string, fn func() string) {
	t0 := time.Now()
	s.record(name, "INFO", fn(), t0)
}

func (s *suite) dial() (*Peer, error) { return Dial(s.ctx, s.blob, s.opts) }

func (s *suite) dialN(n int) ([]*Peer, error) {
	out := make([]*Peer, 0, n)
	for i := 0; i < n; i++ {
		p, err := s.dial()
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("peer %d of %d: %w", i+1, n, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func closeAll(ps []*Peer) {
	for _, p := range ps {
		if p != nil {
			p.Close()
		}
	}
}

func randRoom(prefix string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<40))
	return fmt.Sprintf("%s-%x", prefix, n)
}

// barrier: the hub handles one peer's frames in order, so an echo round trip
// after a join proves the join was processed.
func barrier(p *Peer) error {
	_, _, err := p.Echo("barrier", 3*time.Second)
	return err
}

func joinAll(room string, ps ...*Peer) error {
	for _, p := range ps {
		if err := p.Join(room); err != nil {
			return err
		}
	}
	for _, p := range ps {
		if err := barrier(p); err != nil {
			return fmt.Errorf("peer %d: %w", p.ID, err)
		}
	}
	return nil
}

func sortedInts(a []int) []int {
	b := append([]int(nil), a...)
	sort.Ints(b)
	return b
}

func sameSet(a, b []int) bool { return reflect.DeepEqual(sortedInts(a), sortedInts(b)) }

func contains(a []int, x int) bool {
	for _, v := range a {
		if v == x {
			return true
		}
	}
	return false
}

func jsonEqual(a json.RawMessage, want any) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil {
		return false
	}
	raw, _ := json.Marshal(want)
	_ = json.Unmarshal(raw, &y)
	return reflect.DeepEqual(x, y)
}

func trunc(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// runConformance runs every check against the hub and prints one line each.
func runConformance(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("conformance", flag.ExitOnError)
	blobS := fs.String("blob", "", "hub blob (raw, a ?galaxy= link, a 'BLOB …' line, or @file)")
	dropTimeout := fs.Duration("drop-timeout", 30*time.Second, "how long to wait for a closed/vanished peer to leave 'peers'")
	jsonOut := fs.String("json-out", "", "also write results as JSON to this file")
	skipVanish := fs.Bool("skip-vanish", false, "skip the (slow) silent-vanish check")
	_ = fs.Parse(args)
	b, err := LoadBlob(*blobS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubprobe:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	s := &suite{ctx: ctx, blob: b, opts: DialOpts{Quiet: true}}
	fmt.Printf("hub %s  endpoints %v  turn=%v  skipped=%v\n", b.Version, b.Endpoints, b.HasTURN(), b.Skipped)

	var A, B, C, D *Peer

	// 1. ids
	if !s.check("id: hub assigns an id", func() (bool, string) {
		ps, err := s.dialN(4)
		if err != nil {
			return false, "connect: " + err.Error()
		}
		A, B, C, D = ps[0], ps[1], ps[2], ps[3]
		ids := []int{A.ID, B.ID, C.ID, D.ID}
		seen := map[int]bool{}
		for _, id := range ids {
			if id <= 0 || seen[id] {
				return false, fmt.Sprintf("ids not positive+unique: %v", ids)
			}
			seen[id] = true
		}
		return true, fmt.Sprintf("ids %v, join %v, %s", ids, A.JoinTime.Round(time.Millisecond), A.SCTPMeta())
	}) {
		fmt.Println("cannot connect; aborting")
		s.finish(*jsonOut)
		return 1
	}
	defer func() { closeAll([]*Peer{A, B, C, D}) }()

	// 2. echo
	s.check("echo: round-trips any JSON x", func() (bool, string) {
		cases := []any{map[string]any{"a": []any{1.0, "two", nil, true}, "n": 1.5, "s": "ünï\"code"}, "str", 42.0, []any{}, nil}
		var rtt time.Duration
		for _, x := range cases {
			got, d, err := A.Echo(x, 3*time.Second)
			if err != nil {
				return false, fmt.Sprintf("echo %v: %v", x, err)
			}
			if !jsonEqual(got, x) {
				return false, fmt.Sprintf("echo %v came back as %s", x, got)
			}
			rtt = d
		}
		return true, fmt.Sprintf("%d shapes ok, last rtt %v", len(cases), rtt.Round(10*time.Microsecond))
	})

	r1, r2 := randRoom("alpha"), randRoom("beta")
	s.room = r1

	// 3. room-scoped peers
	s.check("rooms: join+peers is room-scoped", func() (bool, string) {
		if err := joinAll(r1, A, B); err != nil {
			return false, err.Error()
		}
		if err := joinAll(r2, C); err != nil {
			return false, err.Error()
		}
		pa, err := A.Peers(3 * time.Second)
		if err != nil {
			return false, "peers A: " + err.Error()
		}
		pc, err := C.Peers(3 * time.Second)
		if err != nil {
			return false, "peers C: " + err.Error()
		}
		pd, err := D.Peers(3 * time.Second)
		if err != nil {
			return false, "peers D: " + err.Error()
		}
		switch {
		case !sameSet(pa, []int{A.ID, B.ID}):
			return false, fmt.Sprintf("room1 peers %v, want {%d,%d}", pa, A.ID, B.ID)
		case !sameSet(pc, []int{C.ID}):
			return false, fmt.Sprintf("room2 peers %v, want {%d}", pc, C.ID)
		case !contains(pd, D.ID) || contains(pd, A.ID) || contains(pd, B.ID) || contains(pd, C.ID):
			return false, fmt.Sprintf("default-room peers %v leak or miss self %d", pd, D.ID)
		}
		return true, fmt.Sprintf("r1=%v r2=%v default=%v (includes self)", sortedInts(pa), pc, sortedInts(pd))
	})

	// 4. to/from within a room
	s.check("to/from: delivery within a room", func() (bool, string) {
		payloads := []any{map[string]any{"k": "v", "n": []any{1.0, 2.0}}, "text", 7.0, []any{"a"}, nil, strings.Repeat("p", 10000)}
		for _, pl := range payloads {
			B.Drain()
			if err := A.Send(map[string]any{"t": "to", "id": B.ID, "payload": pl}); err != nil {
				return false, err.Error()
			}
			f, err := B.Next(3*time.Second, func(f Frame) bool { return f.T == "from" })
			if err != nil {
				return false, fmt.Sprintf("payload %s not delivered", trunc(mustJSON(pl), 40))
			}
			if f.ID != A.ID || !jsonEqual(f.Payload, pl) {
				return false, fmt.Sprintf("got %s", trunc(f.Raw, 80))
			}
		}
		// and the reverse direction
		A.Drain()
		_ = B.Send(map[string]any{"t": "to", "id": A.ID, "payload": "back"})
		f, err := A.Next(3*time.Second, func(f Frame) bool { return f.T == "from" })
		if err != nil || f.ID != B.ID {
			return false, "reverse direction not delivered"
		}
		return true, fmt.Sprintf("%d payload shapes A->B, plus B->A; from.id = sender", len(payloads))
	})

	// 5. isolation
	s.check("isolation: no cross-room delivery", func() (bool, string) {
		for _, p := range []*Peer{A, B, C, D} {
			p.Drain()
		}
		_ = A.Send(map[string]any{"t": "to", "id": C.ID, "payload": "leak1"}) // known id, other room
		_ = C.Send(map[string]any{"t": "to", "id": A.ID, "payload": "leak2"})
		_ = D.Send(map[string]any{"t": "to", "id": A.ID, "payload": "leak3"}) // default room -> named room
		_ = A.Send(map[string]any{"t": "to", "id": D.ID, "payload": "leak4"})
		for id := A.ID - 3; id <= D.ID+3; id++ { // guessed ids around ours
			if id != B.ID && id != A.ID {
				_ = A.Send(map[string]any{"t": "to", "id": id, "payload": "leak5"})
			}
		}
		_ = A.Send(map[string]any{"t": "to", "id": 1 << 30, "payload": "nobody"})
		time.Sleep(1500 * time.Millisecond)
		for _, p := range []*Peer{A, C, D} {
			if f, err := p.Next(10*time.Millisecond, func(f Frame) bool { return f.T == "from" }); err == nil {
				return false, fmt.Sprintf("peer %d received %s", p.ID, trunc(f.Raw, 80))
			}
		}
		if err := barrier(A); err != nil {
			return false, "sender broken after to-nobody: " + err.Error()
		}
		return true, "known-id, guessed-id (±3) and default<->named sends all dropped"
	})

	// 5b. a burst of back-to-back frames (chat flood, state sync) must all arrive
	s.check("burst: 10000 back-to-back 'to' frames", func() (bool, string) {
		return s.burst(&A, &B, 10000)
	})

	// 6. re-join moves a peer
	s.check("rooms: re-join moves the peer", func() (bool, string) {
		r3 := randRoom("gamma")
		if err := joinAll(r3, A); err != nil {
			return false, err.Error()
		}
		pb, err := B.Peers(3 * time.Second)
		if err != nil {
			return false, err.Error()
		}
		pa, err := A.Peers(3 * time.Second)
		if err != nil {
			return false, err.Error()
		}
		ok := sameSet(pb, []int{B.ID}) && sameSet(pa, []int{A.ID})
		if err := joinAll(r1, A); err != nil { // back to r1 for later checks
			return false, err.Error()
		}
		return ok, fmt.Sprintf("old room now %v, new room %v", pb, pa)
	})

	// 7. malformed frames
	deep := strings.Repeat("[", 30000) + strings.Repeat("]", 30000) // 60 KB, 3x Go's json nesting limit
	garbage := make([]byte, 300)
	_, _ = rand.Read(garbage)
	malformed := []struct {
		name   string
		raw    []byte
		binary bool
	}{
		{"invalid JSON", []byte("{not json"), false},
		{"binary garbage", garbage, true},
		{"empty message", []byte(""), false},
		{"JSON array", []byte(`[1,2,3]`), false},
		{"JSON string", []byte(`"t"`), false},
		{"JSON null", []byte(`null`), false},
		{"missing t", []byte(`{"x":1}`), false},
		{"unknown t", []byte(`{"t":"zzz","id":1}`), false},
		{"t is a number", []byte(`{"t":5}`), false},
		{"to: id is a string", []byte(`{"t":"to","id":"abc","payload":1}`), false},
		{"to: id is a float", []byte(`{"t":"to","id":1.5,"payload":1}`), false},
		{"to: id negative", []byte(`{"t":"to","id":-1,"payload":1}`), false},
		{"to: no payload", []byte(fmt.Sprintf(`{"t":"to","id":%d}`, B.ID)), false},
		{"join: room is a number", []byte(`{"t":"join","room":123}`), false},
		{"join: room is an object", []byte(`{"t":"join","room":{"a":1}}`), false},
		{"echo: no x", []byte(`{"t":"echo"}`), false},
		{"deeply nested JSON (30k levels)", []byte(deep), false},
		{"60 KiB valid frame", mustJSON(map[string]any{"t": "to", "id": B.ID, "payload": strings.Repeat("z", 60*1024)}), false},
		{"65535 B garbage frame", bytes.Repeat([]byte("x"), 65535), false},
	}
	for _, m := range malformed {
		s.check("malformed: "+m.name, func() (bool, string) { return s.survives(&A, m.raw, m.binary) })
	}
	// join state must be untouched by the malformed joins
	s.check("malformed: bad join left room intact", func() (bool, string) {
		pa, err := A.Peers(3 * time.Second)
		if err != nil {
			return false, err.Error()
		}
		return contains(pa, B.ID), fmt.Sprintf("A's room now %v", pa)
	})
	s.check("malformed: 200 KiB frame (>64 KiB)", func() (bool, string) {
		return s.survives(&A, bytes.Repeat([]byte("y"), 200*1024), false)
	})
	s.check("echo: 60 KiB x round-trips", func() (bool, string) {
		x := strings.Repeat("e", 60*1024)
		got, d, err := A.Echo(x, 5*time.Second)
		if err != nil {
			return false, err.Error()
		}
		return jsonEqual(got, x), fmt.Sprintf("rtt %v", d.Round(10*time.Microsecond))
	})

	// 8. departures
	s.check("leave: closed peer leaves 'peers'", func() (bool, string) {
		return s.dropCheck(A, false, *dropTimeout)
	})
	if !*skipVanish {
		s.check("leave: vanished peer leaves 'peers'", func() (bool, string) {
			return s.dropCheck(A, true, *dropTimeout)
		})
	}

	// 9. identity / authentication
	s.check("auth: wrong-fingerprint client refused", func() (bool, string) {
		bad := append([]byte(nil), b.FP...)
		bad[0] ^= 0xff
		o := s.opts
		o.Timeout = 8 * time.Second
		p, err := Dial(s.ctx, b.WithFP(bad), o)
		if err == nil {
			p.Close()
			return false, fmt.Sprintf("connected and got id %d despite a wrong pinned fingerprint", p.ID)
		}
		return true, "no session: " + err.Error()
	})
	s.check("auth: wrong ICE pwd gets no answer", func() (bool, string) {
		ep := b.Endpoints[0]
		user := b.Ufrag + ":probe"
		good, err := stunProbe(ep, user, b.Pwd, 3, 400*time.Millisecond)
		if err != nil {
			return false, err.Error()
		}
		if !good.Answered {
			return false, "control failed: correct pwd got no answer either"
		}
		bad, err := stunProbe(ep, user, b.Pwd+"x", 3, 400*time.Millisecond)
		if err != nil {
			return false, err.Error()
		}
		if bad.Answered {
			return false, fmt.Sprintf("answered a wrong-pwd check (%s)", bad.Type)
		}
		return true, fmt.Sprintf("correct pwd: %s integrity=%v mapped=%s rtt=%v; wrong pwd: silence",
			good.Type, good.Integrity, good.Mapped, good.RTT.Round(time.Microsecond))
	})
	s.check("auth: wrong-pwd client cannot connect", func() (bool, string) {
		o := s.opts
		o.Timeout = 8 * time.Second
		p, err := Dial(s.ctx, b.WithPwd(b.Pwd+"x"), o)
		if err == nil {
			p.Close()
			return false, fmt.Sprintf("connected with a wrong ICE pwd (id %d)", p.ID)
		}
		return true, "no session: " + err.Error()
	})
	s.info("ufrag checked on STUN", func() string {
		r, err := stunProbe(b.Endpoints[0], "WRONGufrag:probe", b.Pwd, 2, 400*time.Millisecond)
		if err != nil {
			return err.Error()
		}
		if r.Answered {
			return "no: a check with a wrong USERNAME ufrag (right pwd) is answered"
		}
		return "yes: a wrong USERNAME ufrag is ignored"
	})
	s.info("DTLS without a prior ICE check", func() string {
		fp, err := dtlsWithoutICE(s.ctx, b.Endpoints[0], 5*time.Second)
		if err != nil {
			return "refused/failed: " + err.Error()
		}
		return fmt.Sprintf("ACCEPTED: handshake completed from an address that never sent STUN (cert matches blob: %v)", bytes.Equal(fp, b.FP))
	})

	// 10. the hub is still fine
	s.check("alive: hub still serves new peers", func() (bool, string) {
		p, err := s.dial()
		if err != nil {
			return false, err.Error()
		}
		defer p.Close()
		if _, _, err := p.Echo("still here", 3*time.Second); err != nil {
			return false, err.Error()
		}
		return true, fmt.Sprintf("new id %d, join %v", p.ID, p.JoinTime.Round(time.Millisecond))
	})

	return s.finish(*jsonOut)
}

// survives sends one bad frame from *pp and checks the connection still echoes.
// If the connection died it is replaced so later checks can go on.
func (s *suite) survives(pp **Peer, raw []byte, binary bool) (bool, string) {
	p := *pp
	p.Drain()
	if err := p.SendRaw(raw, binary); err != nil {
		return false, "send: " + err.Error()
	}
	_, d, err := p.Echo("after", 3*time.Second)
	if err == nil {
		return true, fmt.Sprintf("%d B frame ignored, echo after %v", len(raw), d.Round(10*time.Microsecond))
	}
	// Replace the dead connection (and put it back in the shared room).
	state := p.ConnState().String()
	p.Close()
	np, derr := s.dial()
	if derr == nil {
		*pp = np
		if s.room != "" {
			_ = joinAll(s.room, np)
		}
	}
	hub := "hub still accepts new peers"
	if derr != nil {
		hub = "hub NOT accepting new peers: " + derr.Error()
	}
	return false, fmt.Sprintf("connection dead after %d B frame (pc %s); %s", len(raw), state, hub)
}

// burst sends n small 'to' frames from *pa to *pb as fast as the data
// channel accepts them and checks all arrive and both connections survive.
func (s *suite) burst(pa, pb **Peer, n int) (bool, string) {
	A, B := *pa, *pb
	B.Drain()
	meta := A.SCTPMeta()
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = frameWithPad(B.ID, int64(i), 0, 100)
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := A.SendRaw(frames[i], false); err != nil {
			return false, fmt.Sprintf("send %d failed: %v", i, err)
		}
	}
	got := 0
	for got < n {
		if _, err := B.Next(5*time.Second, func(f Frame) bool { return f.T == "from" && f.ID == A.ID }); err != nil {
			break
		}
		got++
	}
	el := time.Since(t0)
	_, _, errA := A.Echo("after-burst", 3*time.Second)
	_, _, errB := B.Echo("after-burst", 3*time.Second)
	detail := fmt.Sprintf("%d/%d delivered in %v; sender alive=%v receiver alive=%v; %s", got, n, el.Round(time.Millisecond), errA == nil, errB == nil, meta)
	ok := got == n && errA == nil && errB == nil
	// replace dead peers so later checks can run
	for _, pp := range []**Peer{pa, pb} {
		if _, _, err := (*pp).Echo("x", time.Second); err != nil {
			(*pp).Close()
			if np, derr := s.dial(); derr == nil {
				_ = joinAll(s.room, np)
				*pp = np
			}
		}
	}
	return ok, detail
}

// dropCheck connects a fresh peer X into watcher's room, then closes (or
// vanishes) it and polls the watcher's peers list until X is gone.
func (s *suite) dropCheck(watcher *Peer, vanish bool, timeout time.Duration) (bool, string) {
	room := randRoom("drop")
	X, err := s.dial()
	if err != nil {
		return false, err.Error()
	}
	defer X.Close()
	if err := joinAll(room, watcher, X); err != nil {
		return false, err.Error()
	}
	ps, err := watcher.Peers(3 * time.Second)
	if err != nil || !contains(ps, X.ID) {
		return false, fmt.Sprintf("setup: %v %v", ps, err)
	}
	t0 := time.Now()
	if vanish {
		X.Vanish()
	} else {
		X.Close()
	}
	polls := 0
	for time.Since(t0) < timeout {
		polls++
		ps, err := watcher.Peers(3 * time.Second)
		if err != nil {
			return false, "watcher: " + err.Error()
		}
		if !contains(ps, X.ID) {
			return true, fmt.Sprintf("gone after %v (poll #%d, polling every 100 ms)", time.Since(t0).Round(100*time.Microsecond), polls)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if vanish {
		// Evidence that the vanish really silenced the socket: pion's own ICE
		// agent, hearing nothing back, leaves "connected".
		return false, fmt.Sprintf("still listed after %v (vanished side's own pc state: %s)", timeout, X.ConnState())
	}
	return false, fmt.Sprintf("still listed after %v", timeout)
}

func (s *suite) finish(jsonOut string) int {
	pass, fail := 0, 0
	for _, r := range s.results {
		switch r.Status {
		case "PASS":
			pass++
		case "FAIL":
			fail++
		}
	}
	fmt.Printf("%d passed, %d failed\n", pass, fail)
	if jsonOut != "" {
		raw, err := json.MarshalIndent(map[string]any{"blob": s.blob.Raw, "results": s.results, "passed": pass, "failed": fail}, "", "  ")
		if err == nil {
			err = os.WriteFile(jsonOut, raw, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "hubprobe: write %s: %v\n", jsonOut, err)
			return 1
		}
	}
	if fail > 0 {
		return 1
	}
	return 0
}

func mustJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}
