package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/gokrazy/instance"
	"github.com/kibitzbox/kibitzbox/gokrazy/vm"
	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// Fixed ports of the vmtest instance (gokrazy/vmtest/config.json). The hub's
// UDP port is in the blob, and gok update talks to Update.HTTPPort and
// HTTPSPort, so these forwards need the same port on both sides.
const (
	hubPkg         = "github.com/kibitzbox/kibitzbox/cmd/hub"
	hotspotPkg     = "github.com/kibitzbox/kibitzbox/cmd/hotspot"
	hubUDPPort     = 14711
	turnUDPPort    = 13478
	gokrazyPort    = 8880
	gokrazyTLSPort = 8443
	vmBytes        = 1795170304 // gok vm run's default: 1.2 GiB + 512 MiB /perm
	piBytes        = 2147483648
)

// versionFlag stamps the hub's version (internal/daemon's version).
func versionFlag(v string) []string { return []string{daemon.LDFlags(v)} }

// figures collects the timings printed at the end (not assertions).
type figures struct{ lines []string }

func (f *figures) add(t *testing.T, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	t.Log("FIGURE " + line)
	f.lines = append(f.lines, line)
	if p := os.Getenv("IMAGETEST_FIGURES"); p != "" {
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(fh, line)
			fh.Close()
		}
	}
}

// gokTool returns the pinned gok (GOK from the Makefile, or built here), and
// the environment gok runs with: a private XDG_CONFIG_HOME holding a fresh
// password, so the test never touches the operator's gokrazy/secrets.
func gokTool(t *testing.T) (gok string, env []string, password string) {
	gok, env, password, _ = gokToolXDG(t)
	return gok, env, password
}

// gokToolXDG is gokTool that also returns the XDG_CONFIG_HOME it made.
func gokToolXDG(t *testing.T) (gok string, env []string, password, xdg string) {
	t.Helper()
	root := repoRoot(t)
	gok = os.Getenv("GOK")
	if gok == "" {
		gok = filepath.Join(t.TempDir(), "gok")
		build := exec.Command("go", "build", "-o", gok, "github.com/gokrazy/tools/cmd/gok")
		build.Dir = filepath.Join(root, "tools", "gok")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building gok: %v\n%s", err, out)
		}
	}
	xdg = t.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "gokrazy"), 0o700); err != nil {
		t.Fatal(err)
	}
	password = fmt.Sprintf("imagetest-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(xdg, "gokrazy", "http-password.txt"), []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	goenv, err := exec.Command("go", "env", "GOENV").Output()
	if err != nil {
		t.Fatalf("go env GOENV: %v", err)
	}
	env = append(os.Environ(), "XDG_CONFIG_HOME="+xdg, "GOENV="+strings.TrimSpace(string(goenv)), "GOK="+gok)
	return gok, env, password, xdg
}

// buildImage runs gokrazy/mkimage.sh, the same script make image uses.
func buildImage(t *testing.T, env []string, parent, name, out string, bytes int64) time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(t), "gokrazy", "mkimage.sh"), parent, name, out, fmt.Sprint(bytes))
	cmd.Env = env
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mkimage.sh %s: %v\n%s", name, err, output)
	}
	t.Logf("%s", output)
	return time.Since(start)
}

// sparseCopy keeps a pristine image for the retry after a boot flake.
func sparseCopy(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", src, err, out)
	}
}

var insecureHTTPS = &http.Client{
	Timeout: 5 * time.Second,
	// The box's certificate is self-signed; the test pins nothing here
	// because the hub session below verifies the DTLS fingerprint.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

type joinInfo struct {
	Blob      string `json:"blob"`
	Room      string `json:"room"`
	RoomCap   int    `json:"room_cap"`
	AppURL    string `json:"app_url"`
	KibitzURL string `json:"kibitz_url"`
}

func fetchJoin(ctx context.Context, httpsPort int) (joinInfo, error) {
	var j joinInfo
	err := status.Fetch(ctx, insecureHTTPS, fmt.Sprintf("https://127.0.0.1:%d/api/join", httpsPort), &j)
	if err == nil && j.Blob == "" {
		err = errors.New("/api/join has an empty blob")
	}
	return j, err
}

// setCallsAsOperator unlocks the operator page with the code from the
// hub's status and sets the default room and room cap.
func setCallsAsOperator(ctx context.Context, t *testing.T, statusPort, httpsPort int, room string, roomCap int) {
	t.Helper()
	var h status.Hub
	if err := status.Fetch(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/status", statusPort), &h); err != nil {
		t.Fatalf("hub status: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: insecureHTTPS.Transport}
	post := func(path string, body any) {
		data, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d%s", httpsPort, path), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	post("/api/admin/login", map[string]string{"code": h.OperatorCode})
	post("/api/admin/calls", map[string]any{"default_room": room, "room_cap": roomCap})
	j, err := fetchJoin(ctx, httpsPort)
	if err != nil || j.Room != room || j.RoomCap != roomCap {
		t.Fatalf("/api/join after the operator's change: %+v, %v", j, err)
	}
}

// gokrazyOverview is the part of gokrazy's web UI JSON the test reads.
type gokrazyOverview struct {
	BuildTimestamp string
	PermTotal      int64
	Services       []gokrazyService
}

type gokrazyService struct {
	Path      string
	Args      []string
	Pid       int
	Stopped   bool
	StartTime time.Time
}

func (o gokrazyOverview) service(path string) (gokrazyService, bool) {
	i := slices.IndexFunc(o.Services, func(s gokrazyService) bool { return s.Path == path })
	if i < 0 {
		return gokrazyService{}, false
	}
	return o.Services[i], true
}

// gokrazyUI reaches gokrazy's web UI through the forwards: plain HTTP on
// 8880 on a box built without TLS, else HTTPS on 8443 trusting exactly the
// box's certificate, as gok update does.
type gokrazyUI struct {
	base   string
	client *http.Client
}

func plainUI() gokrazyUI {
	return gokrazyUI{base: fmt.Sprintf("http://127.0.0.1:%d", gokrazyPort), client: http.DefaultClient}
}

func tlsUI(t *testing.T, certFile string) gokrazyUI {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificate in %s", certFile)
	}
	return gokrazyUI{
		base: fmt.Sprintf("https://127.0.0.1:%d", gokrazyTLSPort),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
}

func (ui gokrazyUI) overview(ctx context.Context, password string) (gokrazyOverview, int, error) {
	var o gokrazyOverview
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ui.base+"/", nil)
	if err != nil {
		return o, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if password != "" {
		req.SetBasicAuth("gokrazy", password)
	}
	resp, err := ui.client.Do(req)
	if err != nil {
		return o, 0, fmt.Errorf("gokrazy UI: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return o, resp.StatusCode, fmt.Errorf("gokrazy UI: %s", resp.Status)
	}
	return o, resp.StatusCode, json.NewDecoder(resp.Body).Decode(&o)
}

// checkPlainRedirects asserts that gokrazy's plain-HTTP port only sends
// the browser to HTTPS, so no password has to cross the LAN in clear.
func checkPlainRedirects(ctx context.Context, t *testing.T) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", gokrazyPort), nil)
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("gokrazy UI on %d: %v", gokrazyPort, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, fmt.Sprintf("https://127.0.0.1:%d/", gokrazyTLSPort)) {
		t.Errorf("GET http://127.0.0.1:%d/ = %s, Location %q; want only a redirect to https on %d", gokrazyPort, resp.Status, loc, gokrazyTLSPort)
	}
}

type vmPorts struct {
	https, http, hubStatus, hotspotStatus int
}

func (p vmPorts) forwards() []vm.Forward {
	return []vm.Forward{
		{Proto: "tcp", HostPort: p.https, GuestPort: 443},
		{Proto: "tcp", HostPort: p.http, GuestPort: 80},
		{Proto: "tcp", HostPort: p.hubStatus, GuestPort: 8079},
		{Proto: "tcp", HostPort: p.hotspotStatus, GuestPort: 8078},
		{Proto: "tcp", HostPort: gokrazyPort, GuestPort: gokrazyPort},
		{Proto: "tcp", HostPort: gokrazyTLSPort, GuestPort: gokrazyTLSPort},
		{Proto: "udp", HostPort: hubUDPPort, GuestPort: hubUDPPort},
		{Proto: "udp", HostPort: turnUDPPort, GuestPort: turnUDPPort},
	}
}

func freePorts(t *testing.T) vmPorts {
	t.Helper()
	for _, fixed := range []struct {
		proto string
		port  int
	}{{"tcp", gokrazyPort}, {"tcp", gokrazyTLSPort}, {"udp", hubUDPPort}, {"udp", turnUDPPort}} {
		if err := vm.PortFree(fixed.proto, fixed.port); err != nil {
			t.Fatal(err)
		}
	}
	var p vmPorts
	for _, dst := range []*int{&p.https, &p.http, &p.hubStatus, &p.hotspotStatus} {
		port, err := vm.FreePort("tcp")
		if err != nil {
			t.Fatal(err)
		}
		*dst = port
	}
	return p
}

// bootWithRetry boots a copy of pristine and waits for ready; on the known
// TCG early-boot panic it boots a fresh copy once more.
func bootWithRetry(t *testing.T, cfg vm.Config, pristine string, ready func(context.Context) error) (*vm.VM, time.Duration) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		sparseCopy(t, pristine, cfg.Image)
		cfg.SerialLog = filepath.Join(t.TempDir(), fmt.Sprintf("serial-%d.log", attempt))
		v, err := vm.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		took, err := v.WaitFor(ctx, ready)
		cancel()
		if err == nil {
			t.Cleanup(func() {
				v.Stop()
				if t.Failed() {
					t.Logf("serial console of %s:\n%s", cfg.Image, tail(v.Serial(), 8000))
				}
			})
			return v, took
		}
		v.Stop()
		if errors.Is(err, vm.ErrKernelPanic) && attempt == 1 {
			testenv.LogRetry(t, "qemu boot of "+filepath.Base(cfg.Image), fmt.Errorf("attempt 1 hit the TCG early-boot panic: %w", err))
			t.Logf("serial console of attempt 1:\n%s", tail(v.Serial(), 3000))
			continue
		}
		t.Fatalf("booting %s (attempt %d): %v\nserial console:\n%s", cfg.Image, attempt, err, tail(v.Serial(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestVMTestInstance boots the amd64 instance (the Pi's programs and flags,
// without the Pi's hardware), talks to it from outside like a guest would,
// then updates it over the air and checks that /perm kept the identity.
func TestVMTestInstance(t *testing.T) {
	testenv.RequireProgram(t, "qemu-system-x86_64", "mkfs.ext4", "cp")
	root := repoRoot(t)
	gok, env, password, xdg := gokToolXDG(t)
	tmp := t.TempDir()
	parent := filepath.Join(tmp, "instances")
	// gokrazy's UI and updates over TLS with a certificate of ours, as
	// make image does; the forwards make the box 127.0.0.1.
	webCert, err := instance.EnsureWebCert(filepath.Join(tmp, "web-tls"), []string{"kibitzbox-vmtest", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := instance.TrustWebCert(xdg, "127.0.0.1", webCert); err != nil {
		t.Fatal(err)
	}
	ui := tlsUI(t, webCert.Cert)
	derive := func(version string) {
		t.Helper()
		if _, err := instance.Derive(filepath.Join(root, "gokrazy", "vmtest"), parent, "vmtest",
			instance.Overrides{GoBuildFlags: map[string][]string{hubPkg: versionFlag(version)}, WebCert: &webCert}); err != nil {
			t.Fatal(err)
		}
	}
	var figs figures

	derive("imagetest-1")
	pristine := filepath.Join(tmp, "vmtest-pristine.img")
	figs.add(t, "vmtest image build (gok overwrite + mkfs /perm): %.1f s", buildImage(t, env, parent, "vmtest", pristine, vmBytes).Seconds())

	ports := freePorts(t)
	cfg := vm.Config{Arch: vm.AMD64, Image: filepath.Join(tmp, "vmtest.img"), Forwards: ports.forwards(), AllowReboot: true}
	var join joinInfo
	_, bootTook := bootWithRetry(t, cfg, pristine, func(ctx context.Context) (err error) {
		join, err = fetchJoin(ctx, ports.https)
		return err
	})
	figs.add(t, "amd64 qemu TCG -smp 1: qemu start → hub /api/join answering: %.1f s", bootTook.Seconds())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	t.Run("app page over HTTPS", func(t *testing.T) {
		resp, err := insecureHTTPS.Get(fmt.Sprintf("https://127.0.0.1:%d/", ports.https))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<html") {
			t.Errorf("GET / = %s, %.200q; want the call app's HTML", resp.Status, body)
		}
		if join.Room != "lobby" || !strings.Contains(join.AppURL, "#lobby") {
			t.Errorf("/api/join = %+v, want room lobby and an app URL for it", join)
		}
	})

	t.Run("hub session from the blob", func(t *testing.T) {
		start := time.Now()
		a, err := hubclient.Dial(ctx, join.Blob, hubclient.LoopbackOnly())
		if err != nil {
			t.Fatalf("dialling the hub in the VM with the blob from /api/join: %v", err)
		}
		defer a.Close()
		figs.add(t, "hub session through slirp (ICE-lite + DTLS + SCTP + id frame): %.0f ms", float64(time.Since(start).Microseconds())/1000)
		b, err := hubclient.Dial(ctx, join.Blob, hubclient.LoopbackOnly())
		if err != nil {
			t.Fatalf("second session: %v", err)
		}
		defer b.Close()
		if a.ID() == b.ID() {
			t.Fatalf("two sessions got the same id %d", a.ID())
		}
		for _, c := range []*hubclient.Client{a, b} {
			if err := c.Join("imagetest"); err != nil {
				t.Fatal(err)
			}
		}
		// The join frames are asynchronous; ask until both are in.
		var peers []int64
		for i := 0; i < 20; i++ {
			if peers, err = a.Peers(ctx); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(peers, a.ID()) && slices.Contains(peers, b.ID()) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !slices.Contains(peers, a.ID()) || !slices.Contains(peers, b.ID()) {
			t.Errorf("peers in room = %v, want both %d and %d", peers, a.ID(), b.ID())
		}
		echo, err := a.Echo(ctx, map[string]string{"probe": "imagetest"})
		if err != nil || !strings.Contains(string(echo), "imagetest") {
			t.Errorf("echo = %s, %v", echo, err)
		}
		if err := a.Send(b.ID(), map[string]string{"hello": "from a"}); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		f, err := b.Recv(rctx)
		if err != nil {
			t.Fatalf("b did not receive a's message through the hub: %v", err)
		}
		if f.T != "from" || f.ID != a.ID() || !strings.Contains(string(f.Payload), "from a") {
			t.Errorf("b received %s, want from{id:%d} with a's payload", f.Raw, a.ID())
		}
	})

	t.Run("gokrazy UI over TLS with the generated password", func(t *testing.T) {
		checkPlainRedirects(ctx, t)
		if _, code, _ := ui.overview(ctx, ""); code != http.StatusUnauthorized {
			t.Errorf("gokrazy UI without password: HTTP %d, want 401", code)
		}
		o, _, err := ui.overview(ctx, password)
		if err != nil {
			t.Fatal(err)
		}
		if o.PermTotal <= 0 {
			t.Errorf("PermTotal = %d: /perm is not mounted (mkfs step missing?)", o.PermTotal)
		}
		// Running, and still the same processes a few seconds later: a
		// program that exits at once would be restarted every second.
		time.Sleep(3 * time.Second)
		later, _, err := ui.overview(ctx, password)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/user/hub", "/user/hotspot", "/user/display"} {
			s, ok := o.service(p)
			if !ok {
				t.Errorf("gokrazy runs no %s", p)
				continue
			}
			if s.Stopped || s.Pid == 0 {
				t.Errorf("%s is not running: %+v", p, s)
			}
			if s2, _ := later.service(p); s2.Pid != s.Pid || !s2.StartTime.Equal(s.StartTime) {
				t.Errorf("%s restarted within 3 s (pid %d → %d): it keeps crashing", p, s.Pid, s2.Pid)
			}
		}
	})

	t.Run("port 80 is the hub's captive handler", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/some/page", ports.http), nil)
		req.Host = "example.com"
		resp, err := insecureHTTPS.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "https://") || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("GET http://example.com/some/page on port 80 = %s Location %q; want a redirect to the https app", resp.Status, loc)
		}
	})

	t.Run("hotspot idles without Wi-Fi, forwarding off and dropped", func(t *testing.T) {
		// It looks for a Wi-Fi interface for --wifi-wait (30 s) first.
		var hs status.Hotspot
		deadline := time.Now().Add(2 * time.Minute)
		for {
			err := status.Fetch(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/status", ports.hotspotStatus), &hs)
			if err == nil && hs.State != status.StateStarting {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hotspot status still %q after 2 min (%v)", hs.State, err)
			}
			time.Sleep(time.Second)
		}
		if hs.State != status.StateNoWiFi {
			t.Errorf("hotspot state = %q (%s), want %q", hs.State, hs.Error, status.StateNoWiFi)
		}
		// Issue 13: the box is never a router, radio or not. The hotspot
		// reads ip_forward and its nftables forward drop back from the
		// VM's kernel for every /status.
		switch g := hs.Guard; {
		case g == nil:
			t.Errorf("the hotspot status has no guard object: %+v", hs)
		case !g.ForwardingOff || !g.ForwardDrop || g.Error != "":
			t.Errorf("guard = %+v, want ip_forward=0 and the forward drop in force", *g)
		case g.GuestFilter:
			t.Errorf("guard = %+v: guest filter installed without an AP", *g)
		default:
			t.Logf("hotspot guard read back in the VM: %+v", *g)
		}
	})

	hubVersion := func(ctx context.Context) (string, error) {
		var h status.Hub
		err := status.Fetch(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/status", ports.hubStatus), &h)
		return h.Version, err
	}
	if v, err := hubVersion(ctx); err != nil || v != "imagetest-1" {
		t.Fatalf("hub version before the update = %q, %v; want imagetest-1", v, err)
	}
	before, _, err := ui.overview(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	// The operator changes the call settings on the box (unlocked with the
	// code from the status, which the screen shows); they must survive
	// the update.
	setCallsAsOperator(ctx, t, ports.hubStatus, ports.https, "after-ota", 5)

	// OTA: a build with another version string, pushed with gok update to
	// the running VM (which reboots into the other root partition).
	derive("imagetest-2")
	start := time.Now()
	upd := exec.CommandContext(ctx, gok, "--parent_dir", parent, "-i", "vmtest", "update")
	upd.Env = env
	if out, err := upd.CombinedOutput(); err != nil {
		t.Fatalf("gok update: %v\n%s", err, tail(string(out), 6000))
	}
	gokDone := time.Since(start)
	var after joinInfo
	for {
		v, err := hubVersion(ctx)
		if err == nil && v == "imagetest-2" {
			if after, err = fetchJoin(ctx, ports.https); err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the new hub version never answered after gok update (last: %q, %v)", v, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	figs.add(t, "OTA: gok update start → gok done: %.1f s; → new hub version answering /api/join: %.1f s", gokDone.Seconds(), time.Since(start).Seconds())
	if after.Blob != join.Blob {
		t.Errorf("the blob changed across the update (identity lost from /perm):\nbefore %s\nafter  %s", join.Blob, after.Blob)
	}
	if after.Room != "after-ota" || after.RoomCap != 5 {
		t.Errorf("operator settings lost across the update: /api/join room %q cap %d, want after-ota and 5", after.Room, after.RoomCap)
	}
	now, _, err := ui.overview(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if now.BuildTimestamp == before.BuildTimestamp {
		t.Errorf("gokrazy still reports build %s after the update", now.BuildTimestamp)
	}
	// The session must work against the updated box too.
	c, err := hubclient.Dial(ctx, after.Blob, hubclient.LoopbackOnly())
	if err != nil {
		t.Fatalf("hub session after the update: %v", err)
	}
	c.Close()
}

// TestPiImageBootsInQEMUVirt builds the real Pi image the way make image
// does (config.json, kernel.rpi, arm64) and boots it on qemu's virt machine
// through EFI: no Pi peripherals, but the same kernel, root file system and
// programs. It also checks that gok's own config parser reads config.json
// back byte for byte, i.e. that no key in it was silently ignored.
func TestPiImageBootsInQEMUVirt(t *testing.T) {
	testenv.RequireProgram(t, "qemu-system-aarch64", "mkfs.ext4", "cp", "mtype", "unsquashfs")
	root := repoRoot(t)
	gok, env, password, xdg := gokToolXDG(t)
	tmp := t.TempDir()
	var figs figures

	t.Run("gok parses config.json losslessly", func(t *testing.T) {
		// gok sbom builds every package. One retry: a build in a shared
		// working tree can trip over a file another engineer is saving.
		var out []byte
		for attempt := 1; ; attempt++ {
			cmd := exec.Command(gok, "--parent_dir", filepath.Join(root, "gokrazy"), "-i", "pi", "sbom", "--format", "json")
			cmd.Env = env
			var stderr strings.Builder
			cmd.Stderr = &stderr
			var err error
			if out, err = cmd.Output(); err == nil {
				break
			}
			if attempt == 2 {
				t.Fatalf("gok sbom: %v\n%s", err, tail(stderr.String(), 6000))
			}
			testenv.LogRetry(t, "gok sbom", fmt.Errorf("attempt 1: %w", err))
			t.Logf("gok sbom stderr of attempt 1:\n%s", tail(stderr.String(), 2000))
		}
		var sbom struct {
			SBOM struct {
				ConfigHash struct{ Hash string } `json:"config_hash"`
			} `json:"sbom"`
		}
		if err := json.Unmarshal(out, &sbom); err != nil {
			t.Fatalf("gok sbom output: %v\n%.500s", err, out)
		}
		raw, err := os.ReadFile(filepath.Join(root, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		// gok hashes config.Struct.FormatForFile() of what it parsed. It
		// equals the file's hash only if every key survived the round trip.
		sum := sha256.Sum256(raw)
		if got := hex.EncodeToString(sum[:]); got != sbom.SBOM.ConfigHash.Hash {
			t.Errorf("config.json (sha256 %s) is not what gok parsed and re-encoded (%s): a key is unknown to gok, or the file is not in gok's canonical form (4-space indent, struct field order, \"InternalCompatibilityFlags\": {} last)", got, sbom.SBOM.ConfigHash.Hash)
		}
	})

	pristine := filepath.Join(tmp, "pi-pristine.img")
	figs.add(t, "Pi arm64 image build (gok overwrite + mkfs /perm): %.1f s", buildImage(t, env, filepath.Join(root, "gokrazy"), "pi", pristine, piBytes).Seconds())
	t.Run("image contents follow config.json", func(t *testing.T) {
		checkPiImageContents(t, root, pristine)
	})

	efi, err := edk2Firmware(root)
	if err != nil {
		t.Fatal(err)
	}
	https, err := vm.FreePort("tcp")
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{gokrazyPort, gokrazyTLSPort} {
		if err := vm.PortFree("tcp", port); err != nil {
			t.Fatal(err)
		}
	}
	cfg := vm.Config{Arch: vm.ARM64, EFI: efi, Image: filepath.Join(tmp, "pi.img"), AllowReboot: true, Forwards: []vm.Forward{
		{Proto: "tcp", HostPort: https, GuestPort: 443},
		{Proto: "tcp", HostPort: gokrazyPort, GuestPort: gokrazyPort},
		{Proto: "tcp", HostPort: gokrazyTLSPort, GuestPort: gokrazyTLSPort},
	}}
	var join joinInfo
	_, took := bootWithRetry(t, cfg, pristine, func(ctx context.Context) (err error) {
		join, err = fetchJoin(ctx, https)
		return err
	})
	figs.add(t, "Pi arm64 image in qemu-system-aarch64 -M virt (EFI, TCG): qemu start → hub /api/join answering: %.1f s", took.Seconds())
	if !strings.Contains(join.AppURL, "10.42.0.1") {
		t.Errorf("the Pi hub's app URL %q does not name the AP address 10.42.0.1", join.AppURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// This image was built from the committed config, as a box that
	// predates TLS for gokrazy's UI: plain HTTP.
	o, _, err := plainUI().overview(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if o.PermTotal <= 0 {
		t.Errorf("/perm not mounted in the Pi image (PermTotal %d)", o.PermTotal)
	}

	// make update BOX=..., exactly as the operator runs it, against the
	// Pi image in qemu (the forwards make the box 127.0.0.1). It makes the
	// UI's certificate for 127.0.0.1, uploads once without verifying (the
	// box has no TLS yet), and gok verifies the certificate after the
	// reboot.
	uctx, ucancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer ucancel()
	start := time.Now()
	upd := exec.CommandContext(uctx, "make", "--no-print-directory", "update", "BOX=127.0.0.1", "GOKRAZY_SECRETS="+xdg)
	upd.Dir = root
	upd.Env = env
	if out, err := upd.CombinedOutput(); err != nil {
		t.Fatalf("make update BOX=127.0.0.1: %v\n%s", err, tail(string(out), 6000))
	}
	var after joinInfo
	for {
		if after, err = fetchJoin(uctx, https); err == nil {
			break
		}
		if uctx.Err() != nil {
			t.Fatalf("the Pi image's hub did not answer after make update: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	figs.add(t, "Pi arm64 image: make update BOX=127.0.0.1 → hub answering again: %.1f s", time.Since(start).Seconds())
	if after.Blob != join.Blob {
		t.Errorf("make update changed the Pi hub's blob (identity lost from /perm):\nbefore %s\nafter  %s", join.Blob, after.Blob)
	}
	checkPlainRedirects(uctx, t)
	now, _, err := tlsUI(t, filepath.Join(xdg, "gokrazy", "web-tls", "cert.pem")).overview(uctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if now.BuildTimestamp == o.BuildTimestamp {
		t.Errorf("the Pi image still runs build %s after make update", now.BuildTimestamp)
	}
	if _, err := os.Stat(filepath.Join(xdg, "gokrazy", "web-tls", "unconfirmed")); err == nil {
		t.Errorf("make update succeeded but left the certificate marked unconfirmed")
	}
}

// edk2Firmware is the aarch64 UEFI firmware shipped inside the pinned gok
// module, so no distribution package is needed.
func edk2Firmware(root string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gokrazy/tools")
	cmd.Dir = filepath.Join(root, "tools", "gok")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the gok module: %w", err)
	}
	matches, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "third_party", "edk2-*", "QEMU_EFI.fd"))
	if len(matches) == 0 {
		return "", fmt.Errorf("no QEMU_EFI.fd in the gok module at %s", out)
	}
	return matches[len(matches)-1], nil
}

// Partition offsets of gok's layout (see gokrazy/mkimage.sh).
const (
	bootOffset = 8192 * 512
	rootOffset = bootOffset + 100<<20
)

// checkPiImageContents reads the built image's boot FAT (mtools) and root
// squashfs (unsquashfs) and checks that config.json's settings landed.
func checkPiImageContents(t *testing.T, root, img string) {
	t.Helper()
	var cfg struct {
		BootloaderExtraLines, KernelExtraArgs []string
		PackageConfig                         map[string]struct{ ExtraFilePaths map[string]string }
	}
	raw, err := os.ReadFile(filepath.Join(root, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	readBoot := func(name string) string {
		out, err := exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", img, bootOffset), "::"+name).Output()
		if err != nil {
			t.Fatalf("reading %s from the boot partition: %v", name, err)
		}
		return string(out)
	}
	configTxt := strings.Split(readBoot("config.txt"), "\n")
	for _, line := range cfg.BootloaderExtraLines {
		if !slices.Contains(configTxt, line) {
			t.Errorf("config.txt lacks %q:\n%s", line, strings.Join(configTxt, "\n"))
		}
	}
	cmdline := strings.Fields(readBoot("cmdline.txt"))
	for _, arg := range cfg.KernelExtraArgs {
		if !slices.Contains(cmdline, arg) {
			t.Errorf("cmdline.txt lacks %q: %q", arg, cmdline)
		}
	}
	out, err := exec.Command("unsquashfs", "-o", fmt.Sprint(rootOffset), "-l", img).Output()
	if err != nil {
		t.Fatalf("listing the root file system: %v", err)
	}
	files := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		files[strings.TrimPrefix(strings.TrimSpace(l), "squashfs-root")] = true
	}
	want := []string{"/user/hub", "/user/hotspot", "/user/display", "/etc/http-port.txt"}
	// Every file of the firmware directory, mapped to /lib/firmware.
	fwDir := filepath.Join(root, "gokrazy", "pi", cfg.PackageConfig[hotspotPkg].ExtraFilePaths["/lib/firmware"])
	err = filepath.WalkDir(fwDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(fwDir, p)
		want = append(want, "/lib/firmware/"+rel)
		return nil
	})
	if err != nil {
		t.Fatalf("walking the firmware directory: %v", err)
	}
	if !slices.Contains(want, "/lib/firmware/brcm/brcmfmac43455-sdio.bin") {
		t.Errorf("the firmware directory %s lacks the Pi 3B+/4 Wi-Fi firmware", fwDir)
	}
	for _, f := range want {
		if !files[f] {
			t.Errorf("the root file system lacks %s", f)
		}
	}
	for f := range files {
		if strings.Contains(f, "fbstatus") || strings.HasSuffix(f, "/heartbeat") {
			t.Errorf("the root file system has %s", f)
		}
	}
}

// TestMkimageWritesCard runs make image's device path (mkimage.sh with a
// block device) against a loop device standing in for an SD card, and checks
// the result: gok's GPT with /perm where mkimage.sh formatted it, an ext4
// /perm, and the boot partition's config.txt.
func TestMkimageWritesCard(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireProgram(t, "losetup", "mkfs.ext4", "lsblk", "blockdev", "mtype")
	root := repoRoot(t)
	_, env, _ := gokTool(t)
	const cardBytes = 3 << 30
	backing := filepath.Join(t.TempDir(), "card.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, cardBytes); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", backing).Output()
	testenv.Require(t, err == nil, "loop devices (losetup --find)")
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })

	cmd := exec.Command(filepath.Join(root, "gokrazy", "mkimage.sh"), filepath.Join(root, "gokrazy"), "pi", dev)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage.sh %s: %v\n%s", dev, err, tail(string(out), 4000))
	}
	f, err := os.Open(backing)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// GPT partition entry 4 (LBA 2, 128 bytes per entry): first and last LBA.
	entry := make([]byte, 128)
	if _, err := f.ReadAt(entry, 1024+3*128); err != nil {
		t.Fatal(err)
	}
	first := int64(binary.LittleEndian.Uint64(entry[32:]))
	last := int64(binary.LittleEndian.Uint64(entry[40:]))
	permKiB := int64(cardBytes/512-2261026) / 2
	if first*512 != rootOffset+1000<<20 || (last-first+1)*512 != permKiB*1024 {
		t.Errorf("GPT partition 4 is LBA %d–%d; mkimage.sh formatted %d KiB at byte %d", first, last, permKiB, rootOffset+1000<<20)
	}
	// ext4 superblock magic 0xEF53 at byte 1024+56 of the file system.
	magic := make([]byte, 2)
	if _, err := f.ReadAt(magic, first*512+1024+56); err != nil {
		t.Fatal(err)
	}
	if magic[0] != 0x53 || magic[1] != 0xEF {
		t.Errorf("no ext4 on /perm (magic %x)", magic)
	}
	cfgTxt, err := exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", backing, bootOffset), "::config.txt").Output()
	if err != nil || !strings.Contains(string(cfgTxt), "dtparam=spi=on") {
		t.Errorf("the card's config.txt lacks config.json's lines: %v\n%s", err, cfgTxt)
	}
}
