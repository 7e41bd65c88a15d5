package status

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/metrics"
)

func TestHandlerAndFetch(t *testing.T) {
	want := Hotspot{State: StateNoWiFi, SSID: "Kibitz-7F3A", Security: "wpa2"}
	srv := httptest.NewServer(Handler(func() any { return want }, func(w *metrics.Writer) {
		w.Gauge("kb_stations", "Associated stations.", 2, nil)
	}))
	defer srv.Close()

	var got Hotspot
	if err := Fetch(context.Background(), srv.Client(), srv.URL+"/status", &got); err != nil {
		t.Fatal(err)
	}
	if got.State != want.State || got.SSID != want.SSID || got.Security != want.Security {
		t.Errorf("got %+v, want %+v", got, want)
	}

	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kb_stations 2\n") {
		t.Errorf("metrics = %q", b.String())
	}
	if err := Fetch(context.Background(), srv.Client(), srv.URL+"/nope", &got); err == nil {
		t.Error("Fetch of a 404 succeeded")
	}
}

func TestFetchUnreachable(t *testing.T) {
	var h Hub
	err := Fetch(context.Background(), http.DefaultClient, "http://127.0.0.1:1/status", &h)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("err = %v, want an error naming the address", err)
	}
}
