// Package web holds the browser end-to-end tests: Debian's chromium and
// firefox-esr (headless, fake camera and microphone) run the real call app
// against the real cmd/hub binary (hub, TURN and HTTPS) on loopback.
// They are heavy tests: `make test-web` runs them.
package web

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// hubBin is the cmd/hub binary TestMain built (or KIBITZBOX_HUB_BIN).
var hubBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	hubBin = os.Getenv("KIBITZBOX_HUB_BIN")
	if hubBin == "" {
		dir, err := os.MkdirTemp("", "kibitzbox-web-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "temp dir for the hub binary:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		hubBin = filepath.Join(dir, "hub")
		out, err := exec.Command("go", "build", "-o", hubBin, "github.com/kibitzbox/kibitzbox/cmd/hub").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build ./cmd/hub: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// hubProcess is a running cmd/hub.
type hubProcess struct {
	t     *testing.T
	args  []string
	log   string
	url   string
	cmd   *exec.Cmd
	state string
	// captive is the plain-http address of the captive portal.
	captive string
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

// startHub runs cmd/hub on free ports with a fresh state directory;
// extra flags follow the test's own.
func startHub(t *testing.T, roomCap int, extra ...string) *hubProcess {
	t.Helper()
	dir := t.TempDir()
	ip := advertiseIP(t)
	httpsAddr := net.JoinHostPort(ip, strconv.Itoa(testenv.FreePort(t, "tcp")))
	h := &hubProcess{
		t:       t,
		state:   filepath.Join(dir, "state"),
		log:     filepath.Join(dir, "hub.log"),
		url:     "https://" + httpsAddr + "/",
		captive: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")),
	}
	h.args = []string{
		"--state", h.state,
		"--advertise", ip,
		"--port", strconv.Itoa(testenv.FreePort(t, "udp")),
		"--turn-port", strconv.Itoa(testenv.FreePort(t, "udp")),
		"--https", httpsAddr,
		"--http", h.captive,
		"--status", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp")),
		"--room", "lobby",
		"--room-cap", strconv.Itoa(roomCap),
		// The TURN clients are this machine's own addresses.
		"--turn-clients", strings.Join(localNets(t), ","),
		// Debug logs say when and why each session closed.
		"--log-level", "debug",
	}
	h.args = append(h.args, extra...)
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

// insecureClient trusts the hub's self-signed certificate (test only).
func insecureClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
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
	h.cmd = exec.Command(hubBin, h.args...)
	h.cmd.Stdout = logf
	h.cmd.Stderr = logf
	if err := h.cmd.Start(); err != nil {
		h.t.Fatalf("start %s: %v", hubBin, err)
	}
	client := insecureClient(time.Second)
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
	resp, err := insecureClient(5 * time.Second).Get(h.url + "api/join")
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

// closedFor returns the reason the hub logged for closing session id
// (empty if it has not closed it).
func (h *hubProcess) closedFor(id string) string {
	b, _ := os.ReadFile(h.log)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `msg="session closed" `) && strings.Contains(line, ` id=`+id+` `) {
			if _, reason, ok := strings.Cut(line, "reason="); ok {
				return strings.Trim(reason, `"`)
			}
			return "(no reason)"
		}
	}
	return ""
}

func (h *hubProcess) stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
	h.cmd = nil
}
