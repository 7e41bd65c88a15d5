package web

import (
	"crypto/tls"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"testing"
	"time"

	webapp "github.com/kibitzbox/kibitzbox/web"
)

// BenchmarkCaptiveProbe: a released phone's probe answered over loopback
// HTTP (keep-alive), the load a venue full of phones puts on port 80.
func BenchmarkCaptiveProbe(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	s := startServer(b, cfg)
	c := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + s.HTTPAddr().String() + "/generate_204"
	get(b, httpClient(""), "http://"+s.HTTPAddr().String()+captiveGoURL, "", "")
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkAppLoad fetches every file of the app over HTTPS with gzip, as
// a first visit does, and reports the bytes on the wire per load.
func BenchmarkAppLoad(b *testing.B) {
	cfg := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	s := startServer(b, cfg)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2:  true,
		DisableCompression: true, // count the compressed bytes ourselves
	}, Timeout: 10 * time.Second}
	var names []string
	fs.WalkDir(webapp.Files(), ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	})
	base := "https://" + s.HTTPSAddr().String() + "/"
	var wire int64
	b.ResetTimer()
	for b.Loop() {
		wire = 0
		for _, name := range names {
			req, _ := http.NewRequest(http.MethodGet, base+name, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			wire += n
		}
	}
	b.ReportMetric(float64(wire), "gzip-bytes/load")
	b.ReportMetric(float64(len(names)), "files/load")
}

// BenchmarkSelfSignedCert is the first-boot cost of making the key and
// certificate (ECDSA P-256).
func BenchmarkSelfSignedCert(b *testing.B) {
	s := &Server{cfg: testConfig(b)}
	epoch := certEpoch(time.Time{})
	for b.Loop() {
		if _, _, err := s.makeSelfSigned(epoch); err != nil {
			b.Fatal(err)
		}
	}
}
