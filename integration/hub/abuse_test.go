// The hostile-guest tests: the real hub binary in network namespaces,
// attacked by one hostile guest per test while a normal guest joins and
// talks. They live in the external test package, apart from the
// conformance tests' helpers.

package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/hubclient"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// rssBoundMiB is the peak resident size (VmHWM) the hub must stay under in
// every attack: a Pi Zero 2 W has 512 MiB for everything.
const rssBoundMiB = 200

var (
	buildOnce sync.Once
	hubBin    string
	buildErr  error
)

// hubBinary builds cmd/hub once per test binary; ABUSE_HUB_BIN runs
// another build instead (e.g. an older one, to see an attack succeed).
func hubBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ABUSE_HUB_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "abuse-hub-")
		if err != nil {
			buildErr = err
			return
		}
		hubBin = filepath.Join(dir, "hub")
		out, err := exec.Command("go", "build", "-o", hubBin, "github.com/kibitzbox/kibitzbox/cmd/hub").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/hub: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return hubBin
}

// box is the real hub running in its own namespace, with a guest network
// (10.77.1.0/24, the normal guest at .2) and an attacker network
// (10.77.2.0/24) on two veth pairs.
type box struct {
	t        *testing.T
	ns       *netnstest.NS
	guest    *netnstest.NS
	attacker *netnstest.NS
	cmd      *exec.Cmd
	blob     string
	http     *http.Client
	exited   chan error
}

const (
	hubIP      = "10.77.1.1"
	hubAttIP   = "10.77.2.1"
	guestIP    = "10.77.1.2"
	hubPort    = 4711
	turnPort   = 3478
	statusAddr = "127.0.0.1:8079"
)

// attackerIP is the attacker's n-th address (n < 200).
func attackerIP(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, 2, byte(10 + n)}) }

// startBox starts the hub; extra flags come last and win (e.g. --https to
// serve the call app).
func startBox(t *testing.T, attackerAddrs int, extra ...string) *box {
	t.Helper()
	bin := hubBinary(t)
	b := &box{t: t, ns: netnstest.New(t), guest: netnstest.New(t), attacker: netnstest.New(t), exited: make(chan error, 1)}
	netnstest.Veth(t, b.ns, "g0", b.guest, "eth0")
	netnstest.Veth(t, b.ns, "a0", b.attacker, "eth0")
	b.ns.AddAddr("g0", hubIP+"/24")
	b.ns.AddAddr("a0", hubAttIP+"/24")
	b.guest.AddAddr("eth0", guestIP+"/24")
	for i := range attackerAddrs {
		b.attacker.AddAddr("eth0", attackerIP(i).String()+"/24")
	}
	// The attacker may forge sources (spoofing tests): no reverse-path
	// filter on the box's side of its link.
	b.ns.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.a0.rp_filter=0")

	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	// 127.0.0.1 last: the first address is the TURN relay address.
	b.cmd = b.ns.Command(ctx, bin, "--state", state, "--advertise", hubIP+","+hubAttIP+",127.0.0.1",
		"--port", strconv.Itoa(hubPort), "--turn-port", strconv.Itoa(turnPort),
		"--turn-clients", "10.77.0.0/16", "--status", statusAddr, "--https", "", "--http", "",
		"--log-level", "warn")
	b.cmd.Args = append(b.cmd.Args, extra...)
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	b.cmd.Stderr = &syncWriter{w: &stderr}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-b.exited
		if t.Failed() {
			t.Logf("hub stderr:\n%s", tail(stderr.String(), 4000))
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if blob, ok := strings.CutPrefix(sc.Text(), "BLOB"); ok {
			b.blob = strings.TrimSpace(blob)
			break
		}
	}
	if b.blob == "" {
		t.Fatalf("hub printed no blob; stderr:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	b.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = b.ns.Do(func() error {
				var d net.Dialer
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}}
	return b
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// alive fails the test if the hub process has exited.
func (b *box) alive() {
	b.t.Helper()
	select {
	case err := <-b.exited:
		b.exited <- err
		b.t.Fatalf("hub exited during the attack: %v", err)
	default:
	}
}

// rssPeakMiB is the hub's VmHWM.
func (b *box) rssPeakMiB() float64 {
	b.t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		b.t.Fatalf("hub status: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		b.t.Fatalf("no VmHWM in /proc/%d/status", b.cmd.Process.Pid)
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

func (b *box) get(path string) []byte {
	b.t.Helper()
	resp, err := b.http.Get("http://" + statusAddr + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
	return body
}

// dropped sums the hub's and the relay's drop and refusal counters.
func (b *box) dropped() uint64 {
	b.t.Helper()
	var sum float64
	for _, line := range strings.Split(string(b.get("/metrics")), "\n") {
		if !strings.HasPrefix(line, "kibitz_hub_dropped_total{") && !strings.HasPrefix(line, "kibitz_turn_refused_total{") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return uint64(sum)
}

// dialIn dials the hub from inside ns.
func dialIn(t *testing.T, ns *netnstest.NS, blob string, opts ...hubclient.Option) (*hubclient.Client, error) {
	t.Helper()
	var c *hubclient.Client
	err := ns.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var err error
		c, err = hubclient.Dial(ctx, blob, opts...)
		return err
	})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// normalGuest is what every attack must leave working: a new guest joins
// (the time it takes is reported), meets a second guest in a room and
// exchanges frames both ways.
func (b *box) normalGuest() time.Duration {
	b.t.Helper()
	start := time.Now()
	a, err := dialIn(b.t, b.guest, b.blob, hubclient.WithLocalIP(netip.MustParseAddr(guestIP)))
	if err != nil {
		b.t.Fatalf("a new guest could not join during the attack: %v", err)
	}
	joined := time.Since(start)
	c, err := dialIn(b.t, b.guest, b.blob, hubclient.WithLocalIP(netip.MustParseAddr(guestIP)))
	if err != nil {
		b.t.Fatalf("a second guest could not join during the attack: %v", err)
	}
	a.Join("normal")
	c.Join("normal")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ids, err := a.Peers(ctx)
		if err != nil {
			b.t.Fatalf("peers: %v", err)
		}
		if len(ids) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 5 {
		if err := a.Send(c.ID(), i); err != nil {
			b.t.Fatal(err)
		}
		if f, err := c.Recv(ctx); err != nil || f.ID != a.ID() {
			b.t.Fatalf("frame %d a→c: %v %s", i, err, f.Raw)
		}
		if err := c.Send(a.ID(), i); err != nil {
			b.t.Fatal(err)
		}
		if f, err := a.Recv(ctx); err != nil || f.ID != c.ID() {
			b.t.Fatalf("frame %d c→a: %v %s", i, err, f.Raw)
		}
	}
	return joined
}

// finish checks the hub survived within its memory bound and reports the
// attack's figures (make bench-abuse collects the ABUSE lines).
func (b *box) finish(attack string, joined time.Duration) {
	b.t.Helper()
	b.alive()
	rss := b.rssPeakMiB()
	dropped := b.dropped()
	line := fmt.Sprintf("ABUSE %-22s join %6.0f ms  hub RSS peak %5.1f MiB (bound %d)  dropped %d",
		attack, float64(joined.Microseconds())/1000, rss, rssBoundMiB, dropped)
	b.t.Log(line)
	if f := os.Getenv("ABUSE_REPORT"); f != "" {
		if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(fh, line)
			fh.Close()
		}
	}
	if rss > rssBoundMiB {
		b.t.Fatalf("hub RSS peak %.1f MiB, bound %d MiB", rss, rssBoundMiB)
	}
}

// during runs attack in the background until the normal guest is done.
func during(t *testing.T, attack func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- attack(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("attack: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func statusDoc(t *testing.T, b *box) (status.Hub, int) {
	t.Helper()
	raw := b.get("/status")
	var d status.Hub
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("status: %v", err)
	}
	return d, len(raw)
}
