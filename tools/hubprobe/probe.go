package main

// The probe and sdp commands: one connection, and the answer-variant matrix.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

// runProbe connects once and prints what the hub did on the way.
func runProbe(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	blobS := fs.String("blob", "", "hub blob")
	room := fs.String("room", "", "join this room first")
	verbose := fs.Bool("v", false, "print the synthesized answer and pion errors")
	_ = fs.Parse(args)
	b, err := LoadBlob(*blobS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubprobe:", err)
		return 2
	}
	if *verbose {
		fmt.Print(SynthAnswer(b, "a=mid:0\n", AnswerOpts{}))
	}
	p, err := Dial(ctx, b, DialOpts{Quiet: !*verbose})
	if err != nil {
		fmt.Println("connect failed:", err)
		return 1
	}
	defer p.Close()
	fmt.Printf("id %d after %v (ice %v, dtls %v, dc open %v)\n", p.ID, p.JoinTime.Round(time.Microsecond),
		p.ICEDone.Round(time.Microsecond), p.DTLSDone.Round(time.Microsecond), p.DCOpen.Round(time.Microsecond))
	fmt.Println(p.SCTPMeta())
	if *room != "" {
		_ = p.Join(*room)
	}
	x, d, err := p.Echo(map[string]any{"hello": "hub"}, 3*time.Second)
	fmt.Printf("echo %s rtt %v err %v\n", x, d, err)
	ids, err := p.Peers(3 * time.Second)
	fmt.Printf("peers %v err %v\n", ids, err)
	return 0
}

// runSDPMatrix tries answer/data-channel variants and reports which ones the
// hub accepts. The hub never sees our SDP; what matters is which local
// assumptions (DTLS role, SCTP port, DCEP) match its fixed behaviour.
func runSDPMatrix(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("sdp", flag.ExitOnError)
	blobS := fs.String("blob", "", "hub blob")
	timeout := fs.Duration("timeout", 6*time.Second, "per-variant connect timeout")
	jsonOut := fs.Bool("json", false, "print JSON too")
	_ = fs.Parse(args)
	b, err := LoadBlob(*blobS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubprobe:", err)
		return 2
	}
	type variant struct {
		name string
		o    DialOpts
	}
	vs := []variant{
		{"baseline: ice-lite, setup:passive, sctp-port 5000, max-message-size 262144", DialOpts{}},
		{"setup:active (hub as DTLS client)", DialOpts{Answer: AnswerOpts{Setup: "active"}}},
		{"setup:actpass in the answer", DialOpts{Answer: AnswerOpts{Setup: "actpass"}}},
		{"no a=ice-lite", DialOpts{Answer: AnswerOpts{NoLite: true}}},
		{"no a=max-message-size", DialOpts{Answer: AnswerOpts{MaxMsgSize: -1}}},
		{"sctp-port 5001", DialOpts{Answer: AnswerOpts{SCTPPort: 5001}}},
		{"negotiated data channel (no DCEP OPEN)", DialOpts{Negotiated: true}},
		{"unordered data channel", DialOpts{Unordered: true}},
	}
	type row struct {
		Variant string  `json:"variant"`
		OK      bool    `json:"ok"`
		JoinMs  float64 `json:"join_ms,omitempty"`
		Note    string  `json:"note"`
	}
	var rows []row
	for _, v := range vs {
		o := v.o
		o.Timeout = *timeout
		o.Quiet = true
		p, err := Dial(ctx, b, o)
		r := row{Variant: v.name}
		if err != nil {
			r.Note = err.Error()
		} else {
			_, _, eerr := p.Echo("x", 3*time.Second)
			r.OK = eerr == nil
			r.JoinMs = float64(p.JoinTime.Microseconds()) / 1000
			r.Note = fmt.Sprintf("id %d", p.ID)
			if eerr != nil {
				r.Note += ", echo failed: " + eerr.Error()
			}
			p.Close()
		}
		st := "no "
		if r.OK {
			st = "YES"
		}
		fmt.Printf("%s  %-75s %s\n", st, r.Variant, r.Note)
		rows = append(rows, r)
	}
	if *jsonOut {
		raw, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Println(string(raw))
	}
	return 0
}
