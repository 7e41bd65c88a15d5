package display

import (
	"context"
	"image"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/render"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// hubServer serves the sample hub document, or misbehaves the way the
// test sets: "slow" (no answer until the client gives up), "stall" (the
// start of the document, then nothing), "huge" (a room list past
// status.MaxDocument).
type hubServer struct {
	mu   sync.Mutex
	mode string
	doc  status.Hub
	srv  *httptest.Server
}

func newHubServer(t *testing.T) *hubServer {
	h := &hubServer{doc: *render.Sample().Hub}
	ok := status.Handler(func() any { return h.doc }, nil)
	huge := h.doc
	name := strings.Repeat("<", 256) // 6 bytes each in JSON
	for range status.MaxDocument / 1000 {
		huge.Rooms = append(huge.Rooms, status.Room{Name: name, Members: 1})
	}
	hugeHandler := status.Handler(func() any { return huge }, nil)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		mode := h.mode
		h.mu.Unlock()
		switch mode {
		case "slow":
			<-r.Context().Done()
		case "stall":
			w.Write([]byte(`{"version":"v","app_url":"` + h.doc.AppURL + `","rooms":[`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "huge":
			hugeHandler.ServeHTTP(w, r)
		default:
			ok.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hubServer) set(mode string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mode = mode
}

func testHTTPSource(hubURL string) *httpSource {
	// The hotspot is simply absent.
	return &httpSource{hubURL: hubURL, hotspotURL: "http://127.0.0.1:1/status",
		client: clientFor(""), log: slog.New(slog.DiscardHandler)}
}

// clientFor bounds a request as the display does, only shorter where the
// server is meant to stall (the test waits that long), and generous where
// it is not (a loaded machine must not turn "huge" into "slow").
func clientFor(mode string) *http.Client {
	timeout := 30 * time.Second
	switch mode {
	case "slow":
		timeout = 300 * time.Millisecond
	case "stall":
		timeout = time.Second
	}
	return &http.Client{Timeout: timeout}
}

// wantCallQR checks that in shows the call QR with url on every panel
// size (page 1 is the call page on the OLED carousel).
func wantCallQR(t *testing.T, what string, in render.Input, url string) {
	t.Helper()
	for _, size := range []image.Point{{128, 64}, {250, 122}, {1280, 720}} {
		f, err := render.Render(size, in, render.Options{Page: 1})
		if err != nil {
			t.Fatalf("%s: render %v: %v", what, size, err)
		}
		found := false
		for _, q := range f.QRs {
			found = found || q.Payload == url
		}
		if !found {
			t.Errorf("%s: %v frame has no call QR %q (codes %+v)", what, size, url, f.QRs)
		}
	}
}

// The call QR stays up whatever the hub's /status does after the display
// has once seen it: slow, cut off, oversized or refused.
func TestCallQRSurvivesABadHubStatus(t *testing.T) {
	h := newHubServer(t)
	url := h.doc.AppURL
	src := testHTTPSource(h.srv.URL + "/status")
	in := src.get(context.Background())
	if in.Hub == nil || in.Hub.AppURL != url {
		t.Fatalf("healthy hub: %+v", in.Hub)
	}
	wantCallQR(t, "healthy", in, url)

	for _, mode := range []string{"slow", "stall", "huge", "", "refused"} {
		if mode == "refused" {
			h.srv.Close()
		} else {
			h.set(mode)
		}
		src.client = clientFor(mode)
		in := src.get(context.Background())
		if mode == "" {
			if in.Hub == nil {
				t.Fatal("the hub is back but the display does not read it")
			}
			continue
		}
		if in.Hub != nil || in.CallURL != url {
			t.Errorf("%s: hub %v, CallURL %q; want no document and %q", mode, in.Hub != nil, in.CallURL, url)
		}
		wantCallQR(t, mode, in, url)
	}
}

// Without a good document ever, a cut-off or oversized one still yields
// the call QR (app_url comes before the room list); a slow or refused
// hub leaves "Call starting…".
func TestCallQRFromAFirstBadHubStatus(t *testing.T) {
	for _, c := range []struct {
		mode   string
		wantQR bool
	}{{"huge", true}, {"stall", true}, {"slow", false}, {"refused", false}} {
		h := newHubServer(t)
		url := h.doc.AppURL
		if c.mode == "refused" {
			h.srv.Close()
		} else {
			h.set(c.mode)
		}
		src := testHTTPSource(h.srv.URL + "/status")
		src.client = clientFor(c.mode)
		in := src.get(context.Background())
		if in.Hub != nil {
			t.Errorf("%s: got a whole document", c.mode)
		}
		if c.wantQR {
			wantCallQR(t, c.mode, in, url)
			continue
		}
		f, err := render.Render(image.Pt(250, 122), in, render.Options{})
		if err != nil || len(f.QRs) != 0 || in.CallURL != "" {
			t.Errorf("%s: %v, codes %+v, CallURL %q; want no call QR", c.mode, err, f.QRs, in.CallURL)
		}
	}
}
