package web

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// testLogWriter sends slog output to t.Log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig is a loopback configuration with ephemeral ports.
func testConfig(t testing.TB) Config {
	return Config{
		StateDir:    t.TempDir(),
		HTTPSAddr:   "127.0.0.1:0",
		HTTPAddr:    "127.0.0.1:0",
		DefaultRoom: "lobby",
		RoomCap:     8,
		Blob:        func() string { return "g2|test+blob/x=" },
		Logger:      testLogger(t),
	}
}

// startServer creates and runs a server until the test ends, and checks
// that Run returns without error after cancellation.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testenv.Serve(t, s.Run)
	return s
}

// runUntilStopped runs s until the returned stop function is called, for
// tests that restart a server in one state directory.
func runUntilStopped(t testing.TB, s *Server) (stop func()) {
	return testenv.Start(t, s.Run)
}

// storedCert reads the self-signed certificate from the state directory.
func storedCert(t testing.TB, stateDir string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatalf("read stored cert: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("stored cert is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse stored cert: %v", err)
	}
	return cert
}

// dialer returns a dialer whose connections come from the loopback address
// src (127.0.0.0/8 all works on Linux), so tests can act as several clients.
func dialer(src string) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	return d
}

// httpClient is a plain-HTTP client from src that does not follow redirects.
func httpClient(src string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer(src).DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
}

// httpsClient trusts exactly the server's certificate (verifying the SAN
// for the host dialled) and connects from src.
func httpsClient(t testing.TB, s *Server, src string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.certs.current().Leaf)
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       dialer(src).DialContext,
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
}

// get performs a GET with an optional Host and User-Agent.
func get(t testing.TB, c *http.Client, url, host, ua string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, string(body)
}

// lockedBuffer is a log sink that tests can read while servers write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
