package configcheck_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/gokrazy/configcheck"
)

// boxConfig is the part of gokrazy's config.json the box relies on. The full
// key set is checked against gokrazy's own schema by configcheck first.
type boxConfig struct {
	Hostname string
	Update   struct {
		Hostname, UseTLS, HTTPPort, HTTPSPort, HTTPPassword string
		NoPassword                                          bool
	}
	Environment   []string
	Packages      []string
	PackageConfig map[string]struct {
		ExtraFilePaths   map[string]string
		CommandLineFlags []string
		WaitForClock     bool
		DontStart        bool
	}
	GokrazyPackages      *[]string
	KernelPackage        *string
	FirmwarePackage      *string
	EEPROMPackage        *string
	KernelExtraArgs      []string
	BootloaderExtraLines []string
}

func loadConfig(t *testing.T, path string) ([]byte, boxConfig) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	schemaDir, err := configcheck.PinnedConfigDir(filepath.Join(repoRoot(t), "tools", "gok"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := configcheck.LoadSchema(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range configcheck.Validate(schema, raw) {
		t.Errorf("%s: %v", path, err)
	}
	var cfg boxConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return raw, cfg
}

// flagMap turns ["--a=1", "--b=2"] into {a:1, b:2}; the box only uses the
// --name=value form, so that flags and values cannot be mis-paired.
func flagMap(t *testing.T, pkg string, args []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, a := range args {
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok || !strings.HasPrefix(a, "-") {
			t.Errorf("%s: flag %q is not in --name=value form", pkg, a)
			continue
		}
		if _, dup := m[name]; dup {
			t.Errorf("%s: flag --%s given twice", pkg, name)
		}
		m[name] = val
	}
	return m
}

var boxPackages = []string{
	"github.com/kibitzbox/kibitzbox/cmd/hub",
	"github.com/kibitzbox/kibitzbox/cmd/hotspot",
	"github.com/kibitzbox/kibitzbox/cmd/display",
}

const (
	hubPkg     = "github.com/kibitzbox/kibitzbox/cmd/hub"
	hotspotPkg = "github.com/kibitzbox/kibitzbox/cmd/hotspot"
	displayPkg = "github.com/kibitzbox/kibitzbox/cmd/display"
)

func TestPiConfigHasWhatTheBoxNeeds(t *testing.T) {
	root := repoRoot(t)
	// gok reads <parent_dir>/<instance>/config.json; the Pi instance must be
	// the top-level config.json, not a stale copy.
	link, err := os.Readlink(filepath.Join(root, "gokrazy", "pi", "config.json"))
	if err != nil || link != "../../config.json" {
		t.Errorf("gokrazy/pi/config.json must be a symlink to ../../config.json, got %q, %v", link, err)
	}
	raw, cfg := loadConfig(t, filepath.Join(root, "config.json"))
	viaInstance, err := os.ReadFile(filepath.Join(root, "gokrazy", "pi", "config.json"))
	if err != nil || !bytes.Equal(raw, viaInstance) {
		t.Errorf("gokrazy/pi/config.json does not read as config.json: %v", err)
	}

	if cfg.Hostname == "" {
		t.Error("Hostname is empty")
	}
	if !slices.Contains(cfg.Environment, "GOARCH=arm64") || !slices.Contains(cfg.Environment, "GOOS=linux") {
		t.Errorf("Environment %q must build linux/arm64 for the Pi", cfg.Environment)
	}
	if cfg.KernelPackage != nil || cfg.FirmwarePackage != nil || cfg.EEPROMPackage != nil {
		t.Error("the Pi image must use gok's default Pi kernel, firmware and EEPROM packages")
	}
	checkUpdate(t, cfg)
	if cfg.Update.Hostname != "" {
		t.Errorf("Update.Hostname %q pins one box; make update BOX=... sets it", cfg.Update.Hostname)
	}
	checkPackages(t, cfg)

	if cfg.GokrazyPackages == nil {
		t.Fatal("GokrazyPackages unset: gok's default includes heartbeat")
	}
	gp := *cfg.GokrazyPackages
	for _, want := range []string{"github.com/gokrazy/gokrazy/cmd/dhcp", "github.com/gokrazy/gokrazy/cmd/randomd"} {
		if !slices.Contains(gp, want) {
			t.Errorf("GokrazyPackages lacks %s", want)
		}
	}
	for _, p := range append(slices.Clone(gp), cfg.Packages...) {
		if strings.HasSuffix(p, "/heartbeat") || strings.Contains(p, "fbstatus") {
			t.Errorf("package %s must not be in the image", p)
		}
	}
	for _, want := range []string{"dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000", "dtparam=spi=on", "hdmi_force_hotplug=1"} {
		if !slices.Contains(cfg.BootloaderExtraLines, want) {
			t.Errorf("BootloaderExtraLines lacks %q", want)
		}
	}
	// The HDMI panel is a framebuffer console: it must never blank.
	if !slices.Contains(cfg.KernelExtraArgs, "consoleblank=0") {
		t.Errorf("KernelExtraArgs %q lack consoleblank=0", cfg.KernelExtraArgs)
	}

	hub := flagMap(t, hubPkg, cfg.PackageConfig[hubPkg].CommandLineFlags)
	for name, want := range map[string]string{
		"state": "/perm/kibitzbox", "advertise": "10.42.0.1", "port": "4711", "turn-port": "3478",
		"https": ":443", "http": ":80", "status": "127.0.0.1:8079", "room": "lobby",
	} {
		if hub[name] != want {
			t.Errorf("hub --%s=%q, want %q", name, hub[name], want)
		}
	}
	hotspot := flagMap(t, hotspotPkg, cfg.PackageConfig[hotspotPkg].CommandLineFlags)
	for name, want := range map[string]string{"state": "/perm/kibitzbox", "status": "127.0.0.1:8078"} {
		if hotspot[name] != want {
			t.Errorf("hotspot --%s=%q, want %q", name, hotspot[name], want)
		}
	}
	if display := flagMap(t, displayPkg, cfg.PackageConfig[displayPkg].CommandLineFlags); display["panel"] != "auto" {
		t.Errorf("display --panel=%q, want auto", display["panel"])
	}

	// The Wi-Fi firmware goes to /lib/firmware from a directory of this
	// checkout (relative to the instance dir, where gok runs).
	fw, ok := cfg.PackageConfig[hotspotPkg].ExtraFilePaths["/lib/firmware"]
	if !ok {
		t.Fatal("hotspot ExtraFilePaths lacks /lib/firmware")
	}
	if filepath.IsAbs(fw) {
		t.Errorf("firmware path %q must be relative, so any checkout builds", fw)
	}
	abs := filepath.Join(root, "gokrazy", "pi", fw)
	if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("firmware path %q leaves the repository (%s)", fw, abs)
	}
}

// checkUpdate checks the gokrazy web UI settings both instances share.
func checkUpdate(t *testing.T, cfg boxConfig) {
	t.Helper()
	if cfg.Update.HTTPPort != "8880" {
		t.Errorf("Update.HTTPPort = %q, want 8880 (port 80 is the hub's captive portal)", cfg.Update.HTTPPort)
	}
	if cfg.Update.HTTPSPort == "" || cfg.Update.HTTPSPort == "443" || cfg.Update.HTTPSPort == "80" {
		t.Errorf("Update.HTTPSPort = %q: gok defaults it to 443, which is the hub's app", cfg.Update.HTTPSPort)
	}
	if cfg.Update.HTTPPassword != "" {
		t.Error("Update.HTTPPassword is committed: make image generates it")
	}
	if cfg.Update.NoPassword {
		t.Error("Update.NoPassword would disable over-the-air updates")
	}
}

func checkPackages(t *testing.T, cfg boxConfig) {
	t.Helper()
	if !slices.Equal(slices.Sorted(slices.Values(cfg.Packages)), slices.Sorted(slices.Values(boxPackages))) {
		t.Errorf("Packages = %q, want exactly %q", cfg.Packages, boxPackages)
	}
	for pkg, pc := range cfg.PackageConfig {
		if !slices.Contains(cfg.Packages, pkg) {
			t.Errorf("PackageConfig for %s, which is not in Packages, does nothing", pkg)
		}
		if pc.WaitForClock {
			t.Errorf("%s: WaitForClock would block the box forever offline (no RTC, no NTP)", pkg)
		}
		if pc.DontStart {
			t.Errorf("%s: DontStart set; the box must start every program", pkg)
		}
	}
}

// TestVMTestConfigMatchesPi checks that the qemu instance runs the same
// programs with the same flags, except where qemu lacks the hardware or the
// test needs to reach a port from outside.
func TestVMTestConfigMatchesPi(t *testing.T) {
	root := repoRoot(t)
	_, pi := loadConfig(t, filepath.Join(root, "config.json"))
	_, vm := loadConfig(t, filepath.Join(root, "gokrazy", "vmtest", "config.json"))
	checkUpdate(t, vm)
	checkPackages(t, vm)
	if vm.Update.Hostname != "127.0.0.1" {
		t.Errorf("vmtest Update.Hostname = %q, want 127.0.0.1 (gok update through the qemu forward)", vm.Update.Hostname)
	}
	if !slices.Contains(vm.Environment, "GOARCH=amd64") || vm.KernelPackage == nil || *vm.KernelPackage != "github.com/gokrazy/kernel.amd64" {
		t.Errorf("vmtest must build amd64 with kernel.amd64: %q %v", vm.Environment, vm.KernelPackage)
	}
	if !slices.Equal(*pi.GokrazyPackages, *vm.GokrazyPackages) {
		t.Errorf("GokrazyPackages differ: pi %q, vmtest %q", *pi.GokrazyPackages, *vm.GokrazyPackages)
	}
	mayDiffer := map[string][]string{
		hubPkg:     {"advertise", "port", "turn-port", "status"}, // reachable through slirp
		hotspotPkg: {"status"},
		displayPkg: {"panel"}, // no panel in qemu
	}
	for _, pkg := range boxPackages {
		pf := flagMap(t, pkg, pi.PackageConfig[pkg].CommandLineFlags)
		vf := flagMap(t, pkg, vm.PackageConfig[pkg].CommandLineFlags)
		for name := range pf {
			if _, ok := vf[name]; !ok {
				t.Errorf("%s: vmtest lacks --%s", pkg, name)
			}
		}
		for name, v := range vf {
			p, ok := pf[name]
			if !ok {
				t.Errorf("%s: vmtest has --%s, which the Pi does not", pkg, name)
			} else if p != v && !slices.Contains(mayDiffer[pkg], name) {
				t.Errorf("%s: --%s is %q on the Pi but %q in vmtest", pkg, name, p, v)
			}
		}
	}
}

// TestConfigFlagsExistInPrograms builds each program for this machine and
// checks that every flag config.json passes is one the program defines: an
// unknown flag would make it exit at once, and gokrazy would restart it
// every second, forever.
func TestConfigFlagsExistInPrograms(t *testing.T) {
	root := repoRoot(t)
	_, cfg := loadConfig(t, filepath.Join(root, "config.json"))
	bin := t.TempDir()
	flagLine := regexp.MustCompile(`(?m)^\s+-{1,2}([A-Za-z0-9][A-Za-z0-9_.-]*)`)
	for _, pkg := range boxPackages {
		exe := filepath.Join(bin, filepath.Base(pkg))
		build := exec.Command("go", "build", "-o", exe, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("building %s: %v\n%s", pkg, err, out)
			continue
		}
		// flag.ExitOnError exits 0 for -h; the usage goes to stderr.
		out, _ := exec.Command(exe, "-h").CombinedOutput()
		defined := map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
			defined[m[1]] = true
		}
		for name := range flagMap(t, pkg, cfg.PackageConfig[pkg].CommandLineFlags) {
			if !defined[name] {
				t.Errorf("%s: config.json passes --%s, which %s -h does not list:\n%s", pkg, name, filepath.Base(pkg), out)
			}
		}
	}
}

// repoRoot is two levels up from this package (gokrazy/configcheck).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config.json")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}
