package hubd

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// runHub runs the whole daemon on loopback ports of its own.
func runHub(t *testing.T, stateDir string) (statusURL, appURL string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir = stateDir
	cfg.Advertise = "127.0.0.1"
	cfg.Port = 0
	cfg.TURNPort = -1
	cfg.Discoverable = false
	cfg.StatusAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	cfg.HTTPSAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	cfg.HTTPAddr = ""
	cfg.HotspotStatusAddr = "127.0.0.1:1" // no hotspot on this machine
	testenv.Serve(t, func(ctx context.Context) error { return Run(ctx, cfg) })
	statusURL = "http://" + cfg.StatusAddr + "/status"
	deadline := time.Now().Add(10 * time.Second)
	for {
		var d status.Hub
		if err := status.Fetch(context.Background(), http.DefaultClient, statusURL, &d); err == nil {
			return statusURL, "https://" + cfg.HTTPSAddr
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub's status did not come up within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hubStatus(t *testing.T, url string) status.Hub {
	t.Helper()
	var d status.Hub
	if err := status.Fetch(context.Background(), http.DefaultClient, url, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// The operator unlocks with the code from the loopback status, changes the
// call settings, and the app, the status and the settings file follow;
// after a restart the file still wins over the flags.
func TestOperatorChangesCallsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	statusURL, app := runHub(t, dir)
	code := hubStatus(t, statusURL).OperatorCode
	if len(code) != 6 {
		t.Fatalf("operator_code %q in the loopback status, want 6 digits", code)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the hub's self-signed certificate
	}}
	post := func(path string, body any) int {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", app+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/api/admin/calls", map[string]any{"room_cap": 3}); got != http.StatusUnauthorized {
		t.Fatalf("change before unlocking: %d, want 401", got)
	}
	if got := post("/api/admin/login", map[string]string{"code": code}); got != http.StatusNoContent {
		t.Fatalf("login with the status code: %d", got)
	}
	if got := post("/api/admin/calls", map[string]any{"default_room": "stage", "room_cap": 3}); got != http.StatusNoContent {
		t.Fatalf("set calls: %d", got)
	}
	resp, err := c.Get(app + "/api/join")
	if err != nil {
		t.Fatal(err)
	}
	var j web.JoinInfo
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if j.Room != "stage" || j.RoomCap != 3 {
		t.Errorf("/api/join after the change: %+v", j)
	}
	d := hubStatus(t, statusURL)
	if d.DefaultRoom != "stage" || !strings.HasSuffix(d.AppURL, "#stage") {
		t.Errorf("status after the change: room %q app %q (the call QR must follow)", d.DefaultRoom, d.AppURL)
	}
	if d.OperatorCode == code {
		t.Error("the operator code did not rotate after the unlock")
	}
	raw, err := os.ReadFile(filepath.Join(dir, settings.FileName))
	if err != nil || !strings.Contains(string(raw), `"room_cap": 3`) {
		t.Errorf("settings file: %v\n%s", err, raw)
	}
	// The state page works without a hotspot (a laptop).
	resp, err = c.Get(app + "/api/admin/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Hotspot  string
		Settings struct{ Calls settings.Calls }
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || st.Hotspot != "not reachable" || st.Settings.Calls.RoomCap != 3 {
		t.Errorf("state: %d %+v", resp.StatusCode, st)
	}
}

// A settings file written before (for example before an OTA update) wins
// over the hub's flags at start.
func TestSettingsFileWinsAtStart(t *testing.T) {
	dir := t.TempDir()
	s := settings.Settings{Calls: &settings.Calls{DefaultRoom: "garden", RoomCap: 5}}
	if err := settings.Save(settings.Path(dir), s); err != nil {
		t.Fatal(err)
	}
	statusURL, _ := runHub(t, dir)
	if d := hubStatus(t, statusURL); d.DefaultRoom != "garden" {
		t.Errorf("default room %q, want the settings file's garden", d.DefaultRoom)
	}
}
