// Command hubprobe checks and measures a Kibitz-compatible call hub from the
// outside. It is a pion/webrtc "virtual browser" that connects using nothing
// but the hub's blob, and on top of it a protocol conformance suite and
// benchmarks (join latency, frame routing, fan-in, TURN relay).
//
// It deliberately imports none of the hub's own packages: it parses the blob
// and speaks the frame protocol with its own code, so a bug shared with the
// hub cannot hide itself. It only ever talks to loopback addresses named in
// the blob.
//
//	go run ./tools/hubprobe conformance --blob 'g2|…'
//	go run ./tools/hubprobe bench --blob @blob.txt --pid $(pidof hub)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: hubprobe <command> [flags]

commands:
  conformance --blob B   protocol conformance suite (PASS/FAIL per check)
  bench --blob B         join latency, routing latency/throughput, fan-in, TURN
  sdp --blob B           which synthesized-answer variants the hub accepts
  probe --blob B         connect once, print id, echo, peers

B may be a raw g1/g2 blob, a ?galaxy= link, a "BLOB ..." line, or @file.
Run "hubprobe <command> -h" for the flags of one command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rc := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(rc)
}

// run dispatches to one command and returns the process exit code:
// 0 success, 1 a check or phase failed, 2 bad usage or a bad blob.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "conformance":
		return runConformance(ctx, args[1:])
	case "bench":
		return runBench(ctx, args[1:])
	case "sdp":
		return runSDPMatrix(ctx, args[1:])
	case "probe":
		return runProbe(ctx, args[1:])
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
}
