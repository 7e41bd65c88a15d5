package status

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// bigHub is a hub document whose room list takes it past MaxDocument,
// like ~700 sessions with long room names would.
func bigHub() Hub {
	h := Hub{Version: "v1", AppURL: "https://10.42.0.1/#lobby", KibitzURL: "https://kibitz.chat/#x", DefaultRoom: "lobby", Sessions: 3000}
	name := strings.Repeat("<", 256)
	for len(h.Rooms)*(len(name)*6+40) < 2*MaxDocument {
		h.Rooms = append(h.Rooms, Room{Name: name, Members: 1})
	}
	return h
}

func TestFetchOversizedKeepsLeadingFields(t *testing.T) {
	doc := bigHub()
	srv := httptest.NewServer(Handler(func() any { return doc }, nil))
	defer srv.Close()
	var got Hub
	err := Fetch(context.Background(), srv.Client(), srv.URL+"/status", &got)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("err = %v, want ErrPartial", err)
	}
	if got.AppURL != doc.AppURL || got.KibitzURL != doc.KibitzURL || got.Version != "v1" || got.Sessions != 3000 {
		t.Errorf("leading fields %+v not kept", got)
	}
	if len(got.Rooms) != 0 || got.InCall != 0 {
		t.Errorf("fields after the limit decoded: %d rooms", len(got.Rooms))
	}
}

// A server that sends the start of the document and then stalls: the
// fields that arrived are kept once the client's timeout ends the read.
func TestFetchStalledBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"v2","app_url":"https://10.42.0.1/#lobby","rooms":[{"name":"a","mem`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	client := &http.Client{Timeout: time.Second} // the head is sent at once; the rest never comes
	var got Hub
	err := Fetch(context.Background(), client, srv.URL, &got)
	if !errors.Is(err, ErrPartial) || got.AppURL != "https://10.42.0.1/#lobby" || got.Version != "v2" {
		t.Errorf("err %v, doc %+v; want ErrPartial with app_url", err, got)
	}
}

// A server that never answers: Fetch ends with the client's timeout and
// fills nothing.
func TestFetchSlowHeaders(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	client := &http.Client{Timeout: 200 * time.Millisecond}
	var got Hub
	err := Fetch(context.Background(), client, srv.URL, &got)
	if err == nil || errors.Is(err, ErrPartial) || got.AppURL != "" {
		t.Errorf("err %v, doc %+v; want a plain error", err, got)
	}
}

func TestFetchGarbage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`not json`))
	}))
	defer srv.Close()
	var got Hub
	if err := Fetch(context.Background(), srv.Client(), srv.URL, &got); err == nil || errors.Is(err, ErrPartial) {
		t.Errorf("err = %v, want a decode error", err)
	}
}

// The hub document keeps app_url ahead of the room list, which is what
// makes a cut-off document still useful (see ErrPartial).
func TestHubAppURLBeforeRooms(t *testing.T) {
	b, err := json.Marshal(Hub{AppURL: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if a, r := strings.Index(string(b), `"app_url"`), strings.Index(string(b), `"rooms"`); a < 0 || r < 0 || a > r {
		t.Errorf("app_url at %d, rooms at %d in %s", a, r, b)
	}
}

func TestWiFiQR(t *testing.T) {
	cases := []struct {
		sec, ssid, pass string
		hidden          bool
		want            string
	}{
		{SecurityOpen, "Kibitz-7F3A", "ignored123", false, "WIFI:T:nopass;S:Kibitz-7F3A;;"},
		{SecurityWPA2, "Kibitz-7F3A", "abcdefgh2345", false, "WIFI:T:WPA;S:Kibitz-7F3A;P:abcdefgh2345;;"},
		{SecurityWPA2, `a\b;c,d"e:f`, `p;a:s,s"w\d`, false, `WIFI:T:WPA;S:a\\b\;c\,d\"e\:f;P:p\;a\:s\,s\"w\\d;;`},
		{SecurityWPA2, "Kibitz-7F3A", "abcdefgh2345", true, "WIFI:T:WPA;S:Kibitz-7F3A;P:abcdefgh2345;H:true;;"},
		{SecurityOpen, "Café ☕", "", true, "WIFI:T:nopass;S:Café ☕;H:true;;"},
	}
	for _, c := range cases {
		if got := WiFiQR(c.sec, c.ssid, c.pass, c.hidden); got != c.want {
			t.Errorf("WiFiQR(%q, %q, %q, %v) = %q, want %q", c.sec, c.ssid, c.pass, c.hidden, got, c.want)
		}
	}
}
