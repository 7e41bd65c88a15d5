package main

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

func buildHotspot(t *testing.T) string {
	t.Helper()
	gocmd := testenv.RequireProgram(t, "go")[0]
	bin := filepath.Join(t.TempDir(), "hotspot")
	if out, err := exec.Command(gocmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// The binary on a machine without Wi-Fi: one clear log line, status
// "no-wifi", exit 0 on SIGTERM; with --require-wifi exit 125; a WPA2
// request is refused with a message saying why, also with 125 (a flag
// error does not heal by restarting).
func TestBinaryWithoutWiFi(t *testing.T) {
	bin := buildHotspot(t)
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t, "tcp"))
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--state", t.TempDir(), "--iface", "kbnowifi0", "--status", addr,
		"--modules", "", "--wifi-wait", "100ms")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var doc status.Hotspot
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if status.Fetch(context.Background(), http.DefaultClient, "http://"+addr+"/status", &doc) == nil && doc.State == status.StateNoWiFi {
			break
		}
	}
	if doc.State != status.StateNoWiFi {
		t.Fatalf("status %+v, want no-wifi; stderr:\n%s", doc, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGTERM")
	}
	if n := strings.Count(stderr.String(), "no AP-capable wireless interface; hotspot idle"); n != 1 {
		t.Errorf("idle line logged %d times, want once:\n%s", n, stderr.String())
	}

	req := exec.Command(bin, "--state", t.TempDir(), "--iface", "kbnowifi0", "--status", "127.0.0.1:"+strconv.Itoa(testenv.FreePort(t, "tcp")),
		"--modules", "", "--wifi-wait", "100ms", "--require-wifi")
	out, err := req.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != daemon.ExitConfig {
		t.Errorf("--require-wifi: %v, want exit status %d\n%s", err, daemon.ExitConfig, out)
	}

	// A configuration error is not retried: WEP does not exist here.
	wep := exec.Command(bin, "--state", t.TempDir(), "--status", "127.0.0.1:"+strconv.Itoa(testenv.FreePort(t, "tcp")), "--security", "wep")
	out, err = wep.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != daemon.ExitConfig || !strings.Contains(string(out), "want wpa2 or open") {
		t.Errorf("--security=wep: %v\n%s", err, out)
	}
}
