package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The operator page and its API exist only when an admin handler is given;
// the page carries the same security headers as the app.
func TestAdminRoutes(t *testing.T) {
	off := startServer(t, testConfig(t))
	c := httpsClient(t, off, "")
	for _, p := range []string{"/admin", "/api/admin/state"} {
		if resp, _ := get(t, c, "https://"+off.HTTPSAddr().String()+p, "", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("without an admin handler, GET %s: %d, want 404", p, resp.StatusCode)
		}
	}

	cfg := testConfig(t)
	var seen []string
	cfg.Admin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	s := startServer(t, cfg)
	c = httpsClient(t, s, "")
	base := "https://" + s.HTTPSAddr().String()
	resp, body := get(t, c, base+"/admin", "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `src="admin.js"`) {
		t.Fatalf("GET /admin: %d\n%.300s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the operator page lacks the CSP: %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := get(t, c, base+"/api/admin/state", "", ""); resp.StatusCode != http.StatusTeapot {
		t.Errorf("GET /api/admin/state did not reach the admin handler: %d", resp.StatusCode)
	}
	if strings.Join(seen, ",") != "GET /api/admin/state" {
		t.Errorf("admin handler saw %q", seen)
	}
}

// A change of the call settings reaches /api/join at once.
func TestSetCallsChangesJoin(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := httpsClient(t, s, "")
	s.SetCalls(Calls{DefaultRoom: "stage", RoomCap: 3})
	_, body := get(t, c, "https://"+s.HTTPSAddr().String()+"/api/join", "", "")
	var j JoinInfo
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatal(err)
	}
	if j.Room != "stage" || j.RoomCap != 3 || !strings.HasSuffix(j.AppURL, "/#stage") {
		t.Errorf("/api/join after SetCalls: %+v", j)
	}
	s.SetCalls(Calls{RoomCap: 5})
	if got := s.Calls(); got != (Calls{DefaultRoom: "stage", RoomCap: 5}) {
		t.Errorf("SetCalls with an empty room: %+v, want the room kept", got)
	}
}

// On a laptop the QR page says guests join from the same network; on the
// box it does not.
func TestQRPageNamesTheLaptopCase(t *testing.T) {
	for _, laptop := range []bool{false, true} {
		cfg := testConfig(t)
		cfg.Laptop = laptop
		s := startServer(t, cfg)
		_, page := get(t, httpsClient(t, s, ""), "https://"+s.HTTPSAddr().String()+"/qr", "", "")
		if got := strings.Contains(page, "same Wi-Fi or network as this computer"); got != laptop {
			t.Errorf("laptop=%v: the page names the laptop case: %v", laptop, got)
		}
	}
}
