//go:build linux

// The relay benchmark measures CPU time with getrusage and /proc/stat, which
// only Linux has; the relay's tests are in the other files.

package turnrelay

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/kibitzbox/kibitzbox/internal/sockbuf"
)

// The relay↔relay benchmark runs the relay in a child process (this test
// binary re-executed) so its CPU time can be measured apart from the two
// pion clients that generate and sink the load.
const benchChildEnv = "KIBITZ_TURNRELAY_BENCH_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(benchChildEnv) {
	case "relay":
		os.Exit(runBenchChild())
	case "plain":
		os.Exit(runPlainPionChild())
	}
	os.Exit(m.Run())
}

// runPlainPionChild serves the reference for the benchmark: pion/turn as
// the original relay sets it up (one listener, default socket buffers, a
// kernel UDP socket per allocation, every peer permitted), on loopback.
func runPlainPionChild() int {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	key := turn.GenerateAuthKey(testUser, DefaultRealm, testPass)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	ts, err := turn.NewServer(turn.ServerConfig{
		Realm: DefaultRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == testUser
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
		LoggerFactory: lf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ts.Close()
	fmt.Printf("addr %s\n", conn.LocalAddr())
	serveStats(func() Stats { return Stats{Allocations: ts.AllocationCount()} })
	return 0
}

// serveStats answers "stats" lines on stdin until EOF.
func serveStats(stats func() Stats) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stats" {
			continue
		}
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		rep := childReport{Stats: stats(), CPUSec: tvSec(ru.Utime) + tvSec(ru.Stime)}
		js, _ := json.Marshal(rep)
		fmt.Printf("stats %s\n", js)
	}
}

// childReport is what the child answers to "stats".
type childReport struct {
	Stats  Stats
	CPUSec float64 // user+system CPU time of the relay process
}

// runBenchChild serves a relay on loopback: it prints "addr <ip:port>",
// answers each "stats" line on stdin with "stats <json>", and stops at EOF.
func runBenchChild() int {
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if n, err := strconv.Atoi(os.Getenv("KIBITZ_TURNRELAY_LISTENERS")); err == nil {
		cfg.Listeners = n
	} else {
		cfg.Listeners = 0 // one per CPU, as in production
	}
	if n, err := strconv.Atoi(os.Getenv("KIBITZ_TURNRELAY_SOCKBUF")); err == nil {
		cfg.SocketBuffer = n
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if path := os.Getenv("KIBITZ_TURNRELAY_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	fmt.Printf("addr %s\n", s.Addr())
	serveStats(s.Stats)
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func tvSec(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addr  netip.AddrPort
}

func startBenchChild(b *testing.B, mode string) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start relay child: %v", err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	b.Cleanup(func() {
		_ = stdin.Close()
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				b.Errorf("relay child: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			b.Error("relay child did not stop within 10 s")
		}
	})
	line, err := c.line("addr ")
	if err != nil {
		b.Fatal(err)
	}
	if c.addr, err = netip.ParseAddrPort(line); err != nil {
		b.Fatalf("relay child address %q: %v", line, err)
	}
	return c
}

func (c *benchChild) line(prefix string) (string, error) {
	if !c.out.Scan() {
		return "", fmt.Errorf("relay child output ended: %v", c.out.Err())
	}
	l, ok := strings.CutPrefix(c.out.Text(), prefix)
	if !ok {
		return "", fmt.Errorf("relay child said %q, want %q…", c.out.Text(), prefix)
	}
	return l, nil
}

func (c *benchChild) report(b *testing.B) childReport {
	b.Helper()
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		b.Fatal(err)
	}
	l, err := c.line("stats ")
	if err != nil {
		b.Fatal(err)
	}
	var r childReport
	if err := json.Unmarshal([]byte(l), &r); err != nil {
		b.Fatalf("relay child stats %q: %v", l, err)
	}
	return r
}

// udpDrops sums the kernel's per-socket receive drop counters
// (/proc/net/udp) for sockets bound to port and for all other sockets.
func udpDrops(port uint16) (relay, others uint64) {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, 0
	}
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) < 13 || f[0] == "sl" {
			continue
		}
		_, portHex, _ := strings.Cut(f[1], ":")
		p, _ := strconv.ParseUint(portHex, 16, 16)
		d, _ := strconv.ParseUint(f[12], 10, 64)
		if uint16(p) == port {
			relay += d
		} else {
			others += d
		}
	}
	return relay, others
}

// hostBusySec is the CPU time all cores spent outside idle and iowait since
// boot, from /proc/stat (USER_HZ = 100 ticks per second on Linux).
func hostBusySec() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i != 3 && i != 4 && i < 8 { // skip idle, iowait; guest time is in user already
			busy += n
		}
	}
	return busy / 100
}

func selfCPUSec() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tvSec(ru.Utime) + tvSec(ru.Stime)
}

// harnessSocketBuffer is the load generator's socket buffer size: large, so
// that drops at the load generator's own sockets (a separate column) stay
// rare on a busy machine and the loss measured is the relay's.
const harnessSocketBuffer = 16 << 20

// forceBuffers gives a client socket harnessSocketBuffer.
func forceBuffers(b *testing.B, c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sockbuf.Set(rc, harnessSocketBuffer); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRelayToRelay pushes 1200-byte datagrams from client A through its
// allocation to client B's allocation on the same relay (the path two
// relay-only browsers' media takes) at several offered rates, b.N seconds
// per rate, and reports loss and the relay process's CPU per relayed Gb.
// Run: go test -run '^$' -bench RelayToRelay -benchtime 3x ./internal/turnrelay
func BenchmarkRelayToRelay(b *testing.B) { benchRelayToRelay(b, "relay") }

// BenchmarkRelayToRelayPlainPion measures the same path through pion/turn
// set up the plain way (as the original relay does), on the same machine at
// the same time, as the reference for the figures above.
func BenchmarkRelayToRelayPlainPion(b *testing.B) { benchRelayToRelay(b, "plain") }

func benchRelayToRelay(b *testing.B, mode string) {
	const pktSize = 1200
	child := startBenchChild(b, mode)
	var ends [2]*turnClient
	var relays [2]net.PacketConn
	for i := range ends {
		ends[i] = newTURNClient(b, child.addr, loopback, testUser, testPass)
		forceBuffers(b, ends[i].conn)
		relays[i] = ends[i].allocate(b)
	}
	a, dst := relays[0], relays[1]

	// Receiver: [4 step][8 seq]; step 0 is warm-up, each timed run gets
	// the next step number.
	const maxSteps = 64
	var nextStep atomic.Uint32
	var got [maxSteps]atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := dst.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 12 {
				if st := binary.BigEndian.Uint32(buf); st < maxSteps {
					got[st].Add(1)
				}
			}
		}
	}()
	go func() { // drain A's side so its queue never fills
		buf := make([]byte, 2048)
		for {
			if _, _, err := a.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	// Permissions both ways and channel bindings, as ICE would set up.
	pkt := make([]byte, pktSize)
	deadline := time.Now().Add(5 * time.Second)
	for got[0].Load() < 50 && time.Now().Before(deadline) {
		_, _ = dst.WriteTo(pkt[:12], a.LocalAddr())
		_, _ = a.WriteTo(pkt[:12], dst.LocalAddr())
		time.Sleep(20 * time.Millisecond)
	}
	if got[0].Load() == 0 {
		b.Fatal("relay-to-relay path never came up")
	}

	fmt.Printf("TURN relay↔relay (%s), %d B datagrams, relay in its own process (%s)\n", mode, pktSize, child.addr)
	fmt.Printf("%8s %4s %9s %9s %8s %10s %10s %8s %8s %8s %8s %8s\n", "offered", "s", "sent Mb/s", "recv Mb/s",
		"loss %", "relay CPU", "core-s/Gb", "qdrops", "kd relay", "kd other", "harness", "others")
	for _, mbps := range []int{50, 200, 400, 0} {
		name := fmt.Sprintf("%dMbps", mbps)
		if mbps == 0 {
			name = "unpaced"
		}
		b.Run(name, func(b *testing.B) {
			step := nextStep.Add(1)
			if step >= maxSteps {
				b.Fatal("too many timed runs")
			}
			r0 := child.report(b)
			kr0, ko0 := udpDrops(child.addr.Port())
			self0, host0 := selfCPUSec(), hostBusySec()
			dur := time.Duration(b.N) * time.Second
			start := time.Now()
			var sent int64
			bytesPerSec := float64(mbps) * 1e6 / 8
			for time.Since(start) < dur {
				if mbps > 0 {
					want := int64(bytesPerSec * time.Since(start).Seconds() / pktSize)
					if sent >= want {
						time.Sleep(500 * time.Microsecond)
						continue
					}
				}
				binary.BigEndian.PutUint32(pkt[0:4], step)
				binary.BigEndian.PutUint64(pkt[4:12], uint64(sent))
				if _, err := a.WriteTo(pkt, dst.LocalAddr()); err != nil && !errors.Is(err, net.ErrClosed) {
					b.Fatalf("send: %v", err)
				}
				sent++
			}
			el := time.Since(start).Seconds()
			selfCPU, hostCPU := selfCPUSec()-self0, hostBusySec()-host0
			time.Sleep(300 * time.Millisecond) // let queues drain
			r1 := child.report(b)
			recv := got[step].Load()
			relayCPU := r1.CPUSec - r0.CPUSec
			recvGb := float64(recv) * pktSize * 8 / 1e9
			loss := 0.0
			if sent > 0 {
				loss = 100 * float64(sent-recv) / float64(sent)
			}
			off := strconv.Itoa(mbps)
			if mbps == 0 {
				off = "max"
			}
			kr1, ko1 := udpDrops(child.addr.Port())
			// others: CPU the rest of the machine used meanwhile (this box
			// is shared, so read loss figures together with it).
			fmt.Printf("%8s %4d %9.1f %9.1f %8.3f %9.0f%% %10.3f %8d %8d %8d %7.0f%% %7.0f%%\n", off, b.N,
				float64(sent)*pktSize*8/el/1e6, recvGb*1e3/el, loss, 100*relayCPU/el, relayCPU/recvGb,
				r1.Stats.DroppedQueueFull-r0.Stats.DroppedQueueFull, kr1-kr0, ko1-ko0, 100*selfCPU/el,
				100*(hostCPU-selfCPU-relayCPU)/el)
			b.ReportMetric(loss, "loss_%")
			b.ReportMetric(recvGb*1e3/el, "recv_Mb/s")
			b.ReportMetric(100*relayCPU/el, "relay_cpu_%")
			b.ReportMetric(relayCPU/recvGb, "relay_core_s/Gb")
		})
	}
}
