package hotspot_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// vmTimeout bounds one VM run; a healthy run takes three minutes under TCG
// on an idle machine, seven or more on a busy one. vmBound lowers it to
// end before go test's own deadline, so that a hung guest still gets its
// console tail printed (make test-hotspot gives go test 40 min).
const vmTimeout = 15 * time.Minute

func vmBound(t *testing.T) time.Duration {
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 30*time.Second; left < vmTimeout {
			return left
		}
	}
	return vmTimeout
}

// hwsimModules are loaded in this order by the guest's init.
// (ctr and ccm are CCMP's crypto for WPA2; crc32c_generic to nf_tables
// are the guest packet filter's nftables.)
var hwsimModules = []string{"rfkill", "cfg80211", "libarc4", "mac80211", "virtio_ring", "virtio", "ctr", "ccm",
	"crc32c_generic", "libcrc32c", "nfnetlink", "nf_tables", "mac80211_hwsim"}

// guestSteps are the checks init.sh reports, in order.
var guestSteps = []string{
	"modules", "netns", "no-guard", "bad-channel", "hotspot-start", "guest-guard", "scan", "associate", "station-arrives",
	"dhcp", "dns", "http", "source-guard", "lease-status", "join-b", "dhcp-b", "isolate",
	"station-leaves", "hostile", "join-after-hostile", "join-after-hostile-ping", "ap-gone",
	// WPA2 from here on.
	"hotspot-restart", "identity-regenerated", "wpa2-status", "hidden", "rescan",
	"rejoin", "rejoin-b", "redhcp-b", "redhcp", "rehttp", "rehttp-b", "no-isolate", "wpa2-authorized",
	"sniff", "forged-msg2", "forged-msg2-ping", "wrong-pass", "hotspot-restart-wpa2", "rejoin-wpa2", "rejoin-wpa2-ping",
	"admin-passphrase", "old-passphrase-refused", "new-passphrase-joins", "new-passphrase-ping", "hotspot-stop",
}

func TestHotspotInVM(t *testing.T) {
	progs := testenv.RequireProgram(t, "qemu-system-x86_64", "iw", "wpa_supplicant", "wpa_cli", "busybox", "go", "ldd")
	qemu, iw, wpaSupplicant, wpaCli, busybox, gocmd := progs[0], progs[1], progs[2], progs[3], progs[4], progs[5]
	kernel := cachedKernel(t)

	work := t.TempDir()
	hotspotBin := filepath.Join(work, "hotspot")
	injectBin := filepath.Join(work, "frameinject")
	sniffBin := filepath.Join(work, "framesniff")
	hubBin := filepath.Join(work, "hub")
	adminBin := filepath.Join(work, "adminclient")
	for bin, pkg := range map[string]string{
		hubBin:     "github.com/kibitzbox/kibitzbox/cmd/hub",
		adminBin:   "github.com/kibitzbox/kibitzbox/integration/hotspot/adminclient",
		hotspotBin: "github.com/kibitzbox/kibitzbox/cmd/hotspot",
		injectBin:  "github.com/kibitzbox/kibitzbox/integration/hotspot/frameinject",
		sniffBin:   "github.com/kibitzbox/kibitzbox/integration/hotspot/framesniff",
	} {
		build := exec.Command(gocmd, "build", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}

	rd := newInitramfs()
	script, err := os.ReadFile("testdata/init.sh")
	if err != nil {
		t.Fatal(err)
	}
	rd.addBytes("init", 0o755, script)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "etc"} {
		rd.mkdirAll(d)
	}
	rd.addBytes("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/bin/sh\n"))
	must(t, rd.addFile("hotspot", hotspotBin))
	must(t, rd.addFile("frameinject", injectBin))
	must(t, rd.addFile("framesniff", sniffBin))
	must(t, rd.addFile("hub", hubBin))
	must(t, rd.addFile("adminclient", adminBin))
	for dst, src := range map[string]string{
		"bin/busybox": busybox, "sbin/iw": iw, "sbin/wpa_supplicant": wpaSupplicant, "sbin/wpa_cli": wpaCli,
	} {
		must(t, addWithLibs(rd, dst, src))
	}
	for _, m := range hwsimModules {
		src, ok := kernel.modules[m]
		if !ok {
			t.Fatalf("kernel package has no module %s", m)
		}
		rel, _ := filepath.Rel(kernel.root, src)
		must(t, rd.addFile(rel, src))
	}
	initrd := filepath.Join(work, "initrd.cpio")
	f, err := os.Create(initrd)
	if err != nil {
		t.Fatal(err)
	}
	must(t, rd.writeTo(f))
	must(t, f.Close())

	results, console := runVM(t, qemu, kernel.vmlinuz, initrd)
	checkResults(t, results, console)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// result is one "KBVM <step> <ok|fail> <detail>" line.
type result struct {
	ok     bool
	detail string
}

func runVM(t *testing.T, qemu, vmlinuz, initrd string) (map[string]result, []string) {
	bound := vmBound(t)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu,
		"-accel", "tcg", "-cpu", "max", "-m", "768", "-smp", "2",
		"-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 loglevel=3 panic=-1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	results := map[string]result{}
	var console []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		console = append(console, line)
		if j := strings.Index(line, "KBVM-RETRY "); j >= 0 {
			testenv.LogRetry(t, "hotspot VM guest script", errors.New(line[j+len("KBVM-RETRY "):]))
			continue
		}
		i := strings.Index(line, "KBVM ")
		if i < 0 {
			continue
		}
		t.Logf("%6.1fs %s", time.Since(start).Seconds(), line[i:])
		fields := strings.SplitN(line[i+len("KBVM "):], " ", 3)
		switch {
		case len(fields) >= 2 && (fields[1] == "ok" || fields[1] == "fail"):
			r := result{ok: fields[1] == "ok"}
			if len(fields) == 3 {
				r.detail = fields[2]
			}
			results[fields[0]] = r
		case len(fields) >= 1:
			results[fields[0]] = result{ok: true, detail: strings.TrimPrefix(line[i+len("KBVM "):], fields[0]+" ")}
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Errorf("VM did not finish within %v", bound)
	} else if err != nil {
		t.Errorf("qemu: %v", err)
	}
	t.Logf("VM ran %.1fs", time.Since(start).Seconds())
	return results, console
}

func checkResults(t *testing.T, results map[string]result, console []string) {
	failed := false
	for _, step := range guestSteps {
		r, ok := results[step]
		switch {
		case !ok:
			t.Errorf("guest step %s: not reached", step)
			failed = true
		case !r.ok:
			t.Errorf("guest step %s failed: %s", step, r.detail)
			failed = true
		}
		if failed {
			break
		}
	}
	if _, ok := results["done"]; !ok {
		failed = true
		t.Error("guest did not finish")
	}
	if failed {
		t.Logf("console tail:\n%s", strings.Join(console[max(0, len(console)-120):], "\n"))
		return
	}

	var doc status.Hotspot
	if err := json.Unmarshal([]byte(results["status-json"].detail), &doc); err != nil {
		t.Errorf("status JSON: %v: %q", err, results["status-json"].detail)
	}
	if doc.State != status.StateRunning || doc.SSID != "Kibitz-0000" || doc.Security != "open" ||
		doc.Channel != 6 || doc.Country != "DE" || doc.Interface != "wlan0" ||
		doc.WiFiQR != "WIFI:T:nopass;S:Kibitz-0000;;" || doc.Address != "10.42.0.1/24" || doc.MaxStations <= 0 {
		t.Errorf("status document = %+v", doc)
	}
	if !strings.Contains(results["scan"].detail, "Country: DE") {
		t.Errorf("beacon carries no Country DE element: %q", results["scan"].detail)
	}
	checkWPA2(t, results)

	// After the restart B asks first (init.sh); the lowest free address,
	// A's, would go to B unless the leases were persisted.
	for _, sta := range []struct{ before, after string }{{"dhcp", "redhcp"}, {"dhcp-b", "redhcp-b"}} {
		first := parseLease(t, results[sta.before].detail)
		again := parseLease(t, results[sta.after].detail)
		if first != again {
			t.Errorf("%s: lease after the restart is %s, before it was %s (leases not persisted?)", sta.after, again, first)
		}
	}
	if a, b := parseLease(t, results["dhcp"].detail), parseLease(t, results["dhcp-b"].detail); !a.Less(b) {
		t.Errorf("A got %s before B got %s: the check above needs A to hold the lower address", a, b)
	}

	// The hostile frames reached the MLME and were dropped or refused, and
	// the flood of fake authentications churned the bounded pending table.
	for _, kind := range []string{"malformed", "auth_evicted", "probe_req"} {
		m := regexp.MustCompile(`kb_hotspot_mgmt_frames_total\{kind="` + kind + `"\} (\d+)`).FindStringSubmatch(results["frames"].detail)
		if m == nil {
			t.Errorf("no %s frames counted: %q", kind, results["frames"].detail)
		} else if n, _ := strconv.Atoi(m[1]); n < 5 {
			t.Errorf("%s frames = %d, want >= 5", kind, n)
		}
	}

	m := regexp.MustCompile(`kb_hotspot_station_joins_total (\d+) kb_hotspot_station_leaves_total (\d+)`).FindStringSubmatch(results["metrics"].detail)
	if m == nil {
		t.Errorf("metrics: %q", results["metrics"].detail)
	} else if j, _ := strconv.Atoi(m[1]); j < 1 {
		t.Errorf("joins_total = %s, want >= 1", m[1])
	} else if l, _ := strconv.Atoi(m[2]); l < 1 {
		t.Errorf("leaves_total = %s, want >= 1", m[2])
	}
}

// checkWPA2 checks what the WPA2 half of the guest script reported.
func checkWPA2(t *testing.T, results map[string]result) {
	var doc status.Hotspot
	if err := json.Unmarshal([]byte(results["status-wpa2"].detail), &doc); err != nil {
		t.Fatalf("WPA2 status JSON: %v: %q", err, results["status-wpa2"].detail)
	}
	if doc.Security != "wpa2" || doc.SecurityFallback != "" || len(doc.Passphrase) < 12 ||
		strings.ContainsAny(doc.Passphrase, "0O1l") ||
		doc.WiFiQR != "WIFI:T:WPA;S:Kibitz-0000;P:"+doc.Passphrase+";H:true;;" {
		t.Errorf("WPA2 status document = %+v", doc)
	}
	rsn := results["rescan"].detail
	for _, want := range []string{"Group cipher: CCMP", "Pairwise ciphers: CCMP", "Authentication suites: PSK"} {
		if !strings.Contains(rsn, want) {
			t.Errorf("scan of the WPA2 beacon lacks %q: %q", want, rsn)
		}
	}
	for _, step := range []string{"rejoin", "rejoin-b"} {
		if d := results[step].detail; !strings.Contains(d, "PTK=CCMP GTK=CCMP") {
			t.Errorf("%s: keys not negotiated as CCMP: %q", step, d)
		}
	}
	// The eavesdropper saw the pings, all protected, and no clear data.
	m := regexp.MustCompile(`protected=(\d+) eapol=(\d+) clear=(\d+)`).FindStringSubmatch(results["sniff"].detail)
	if m == nil {
		t.Errorf("sniff: %q", results["sniff"].detail)
	} else if p, _ := strconv.Atoi(m[1]); p < 20 || m[3] != "0" {
		t.Errorf("over the air: %s protected and %s clear-text data frames; want >= 20 and 0", m[1], m[3])
	}
	// The forged message 2s reached the authenticator and were dropped and
	// counted, B still joined (the step itself checks the handshake), and
	// B's leaving before rotated the group key.
	forge := results["forged-msg2-ping"].detail
	if m := regexp.MustCompile(`forged (\d+) message 2s`).FindStringSubmatch(forge); m == nil || m[1] == "0" {
		t.Errorf("forged message 2: nothing forged: %q", forge)
	}
	for _, metric := range []string{"kb_hotspot_eapol_bad_mic_total", "kb_hotspot_group_rekeys_total"} {
		if m := regexp.MustCompile(metric + ` (\d+)`).FindStringSubmatch(forge); m == nil || m[1] == "0" {
			t.Errorf("after the forged message 2s, %s is 0 or missing: %q", metric, forge)
		}
	}
	if !strings.Contains(results["wrong-pass"].detail, "WRONG_KEY") && !strings.Contains(results["wrong-pass"].detail, "4-Way Handshake failed") {
		t.Errorf("wrong passphrase: wpa_supplicant did not report a wrong key: %q", results["wrong-pass"].detail)
	}
	m = regexp.MustCompile(`kb_hotspot_auth_failures_total (\d+)`).FindStringSubmatch(results["metrics-wpa2"].detail)
	if m == nil || m[1] == "0" {
		t.Errorf("auth failures metric: %q", results["metrics-wpa2"].detail)
	}
}

// parseLease checks a udhcpc lease line and returns the address.
func parseLease(t *testing.T, detail string) netip.Addr {
	t.Helper()
	kv := map[string]string{}
	for _, f := range strings.Fields(detail) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	ip, err := netip.ParseAddr(kv["ip"])
	pool := netip.MustParsePrefix("10.42.0.0/24")
	if err != nil || !pool.Contains(ip) || ip.As4()[3] < 10 || ip.As4()[3] > 250 {
		t.Errorf("lease %q: address not in 10.42.0.10-250", detail)
	}
	if kv["router"] != "10.42.0.1" || kv["dns"] != "10.42.0.1" {
		t.Errorf("lease %q: router and DNS must be 10.42.0.1", detail)
	}
	url, err := hex.DecodeString(kv["opt114"])
	if err != nil || string(url) != "http://10.42.0.1/captive-portal/api.json" {
		t.Errorf("lease %q: option 114 = %q, want the captive portal URL", detail, url)
	}
	return ip
}

// addWithLibs copies a dynamically linked program and the shared libraries
// ldd names for it.
func addWithLibs(rd *initramfs, dst, src string) error {
	if err := rd.addFile(dst, src); err != nil {
		return err
	}
	out, err := exec.Command("ldd", src).Output()
	if err != nil {
		return nil // static: ldd says "not a dynamic executable" and fails
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				if err := rd.addFile(f, f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type kernelFiles struct {
	root    string
	vmlinuz string
	modules map[string]string
}

// KernelCacheDir is where `make deps` (fetch-kernel.sh) unpacks Debian's
// kernel: $KIBITZ_VM_CACHE, else the user cache dir. mk/hotspot.mk passes
// the same directory.
func kernelCacheDir() string {
	if d := os.Getenv("KIBITZ_VM_CACHE"); d != "" {
		return d
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kibitzbox", "hotspot-vm")
}

// cachedKernel returns the kernel and modules `make deps` unpacked; the
// test never downloads them itself.
func cachedKernel(t *testing.T) kernelFiles {
	t.Helper()
	root := filepath.Join(kernelCacheDir(), "kernel")
	kf, err := findKernelFiles(root)
	testenv.Require(t, err == nil, fmt.Sprintf("Debian's kernel with mac80211_hwsim unpacked in %s by make deps (%v)", root, err))
	return kf
}

func findKernelFiles(root string) (kernelFiles, error) {
	kf := kernelFiles{root: root, modules: map[string]string{}}
	vm, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(vm) != 1 {
		return kf, fmt.Errorf("no kernel in %s", root)
	}
	kf.vmlinuz = vm[0]
	want := map[string]bool{}
	for _, m := range hwsimModules {
		want[m] = true
	}
	err := filepath.WalkDir(filepath.Join(root, "lib", "modules"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := strings.TrimSuffix(d.Name(), ".ko"); want[n] && !d.IsDir() {
			kf.modules[n] = p
		}
		return nil
	})
	if err != nil || len(kf.modules) != len(hwsimModules) {
		return kf, fmt.Errorf("modules in %s: found %v (%v)", root, kf.modules, err)
	}
	return kf, nil
}
