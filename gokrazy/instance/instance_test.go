package instance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

const hub = "github.com/kibitzbox/kibitzbox/cmd/hub"

func TestDeriveAppliesOverridesAndAbsolutePaths(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "builddir"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{
    "Hostname": "box",
    "Update": {"HTTPPort": "8880"},
    "Packages": ["` + hub + `"],
    "PackageConfig": {
        "` + hub + `": {"GoBuildFlags": ["-trimpath"], "CommandLineFlags": ["--port=4711"],
                         "ExtraFilePaths": {"/lib/firmware": "../../bin/firmware", "/etc/x": "/abs/x"}}
    },
    "SomeFutureKey": {"kept": true}
}`
	mod := "module b\n\ngo 1.26.0\n\nreplace github.com/kibitzbox/kibitzbox => ../../..\n\nrequire github.com/kibitzbox/kibitzbox v0.0.0-00010101000000-000000000000\n"
	for name, body := range map[string]string{"config.json": cfg, "builddir/go.mod": mod, "builddir/go.sum": "sum\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst, err := Derive(src, t.TempDir(), "copy", Overrides{
		UpdateHostname:   "192.0.2.7",
		GoBuildFlags:     map[string][]string{hub: {"-ldflags=-X main.version=v2"}},
		CommandLineFlags: map[string][]string{hub: {"--port=1"}},
		WebCert:          &WebCert{Cert: "/secrets/cert.pem", Key: "/secrets/key.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dst, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Hostname      string
		Update        map[string]string
		PackageConfig map[string]struct {
			GoBuildFlags     []string
			CommandLineFlags []string
			ExtraFilePaths   map[string]string
		}
		SomeFutureKey map[string]bool
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("derived config %s: %v", raw, err)
	}
	if got.Update["UseTLS"] != "/secrets/cert.pem,/secrets/key.pem" {
		t.Errorf("UseTLS = %q, want the certificate and key paths", got.Update["UseTLS"])
	}
	if got.Hostname != "box" || got.Update["Hostname"] != "192.0.2.7" || got.Update["HTTPPort"] != "8880" {
		t.Errorf("hostnames/port wrong: %+v", got)
	}
	pc := got.PackageConfig[hub]
	if want := []string{"-trimpath", "-ldflags=-X main.version=v2"}; !reflect.DeepEqual(pc.GoBuildFlags, want) {
		t.Errorf("GoBuildFlags = %q, want %q", pc.GoBuildFlags, want)
	}
	if want := []string{"--port=1"}; !reflect.DeepEqual(pc.CommandLineFlags, want) {
		t.Errorf("CommandLineFlags = %q, want %q", pc.CommandLineFlags, want)
	}
	if want := filepath.Join(src, "../../bin/firmware"); pc.ExtraFilePaths["/lib/firmware"] != want {
		t.Errorf("relative ExtraFilePaths = %q, want %q", pc.ExtraFilePaths["/lib/firmware"], want)
	}
	if pc.ExtraFilePaths["/etc/x"] != "/abs/x" {
		t.Errorf("absolute ExtraFilePaths changed to %q", pc.ExtraFilePaths["/etc/x"])
	}
	if !got.SomeFutureKey["kept"] {
		t.Error("an unknown key was dropped")
	}

	// Version stamps every package of this module (and only those), in
	// place of an earlier -ldflags.
	dst, err = Derive(src, t.TempDir(), "stamped", Overrides{
		GoBuildFlags: map[string][]string{hub: {"-ldflags=-X main.version=old"}},
		Version:      "v1.2.3-4-gabc",
	})
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = os.ReadFile(filepath.Join(dst, "config.json")); err != nil {
		t.Fatal(err)
	}
	got.PackageConfig = nil
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"-trimpath", "-ldflags=-X github.com/kibitzbox/kibitzbox/internal/daemon.version=v1.2.3-4-gabc"}
	if pc := got.PackageConfig[hub]; !reflect.DeepEqual(pc.GoBuildFlags, want) {
		t.Errorf("stamped GoBuildFlags = %q, want %q", pc.GoBuildFlags, want)
	}

	gomod, err := os.ReadFile(filepath.Join(dst, "builddir", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(mf.Replace) != 1 || mf.Replace[0].New.Path != filepath.Join(src, "builddir", "../../..") {
		t.Errorf("replace not made absolute:\n%s", gomod)
	}
	if sum, _ := os.ReadFile(filepath.Join(dst, "builddir", "go.sum")); !strings.Contains(string(sum), "sum") {
		t.Error("go.sum not copied")
	}
}
