package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"

	webapp "github.com/kibitzbox/kibitzbox/web"
)

func TestJoinAPI(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdvertiseIPs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	cfg.RoomCap = 6
	cfg.AirBudget = func() int { return 3000 }
	s := startServer(t, cfg)
	c := httpsClient(t, s, "")
	resp, body := get(t, c, "https://"+s.HTTPSAddr().String()+"/api/join", "", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.HTTPSAddr().String())
	want := map[string]any{
		"blob":            "g2|test+blob/x=",
		"room":            "lobby",
		"room_cap":        6.0,
		"air_budget_kbps": 3000.0,
		"app_url":         "https://127.0.0.1:" + port + "/#lobby",
		"kibitz_url":      "https://kibitz.chat/?galaxy=g2%7Ctest%2Bblob/x=#lobby",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
	if s.AppURL("lobby") != want["app_url"] {
		t.Errorf("AppURL %s", s.AppURL("lobby"))
	}

	// The hub's KibitzLink wins over the built-in one.
	cfg = testConfig(t)
	cfg.KibitzLink = func(room string) string { return "https://kibitz.chat/?galaxy=HUB#" + room }
	s = startServer(t, cfg)
	_, body = get(t, httpsClient(t, s, ""), "https://"+s.HTTPSAddr().String()+"/api/join", "", "")
	if !strings.Contains(body, `"kibitz_url": "https://kibitz.chat/?galaxy=HUB#lobby"`) {
		t.Errorf("KibitzLink not used: %s", body)
	}
}

// TestAppURL covers the port and IPv6 forms without binding port 443.
func TestAppURL(t *testing.T) {
	cases := []struct {
		listen string
		ips    []netip.Addr
		room   string
		want   string
	}{
		{"0.0.0.0:443", []netip.Addr{netip.MustParseAddr("10.42.0.1")}, "lobby", "https://10.42.0.1/#lobby"},
		{"[::]:8443", []netip.Addr{netip.MustParseAddr("192.168.1.5")}, "lobby", "https://192.168.1.5:8443/#lobby"},
		{"[::]:443", []netip.Addr{netip.MustParseAddr("fd00::1")}, "", "https://[fd00::1]/"},
		{"[::]:8443", []netip.Addr{netip.MustParseAddr("fd00::1")}, "a b", "https://[fd00::1]:8443/#a%20b"},
		{"0.0.0.0:8443", nil, "lobby", "https://localhost:8443/#lobby"},
		{"[::]:443", []netip.Addr{netip.MustParseAddr("fe80::1%wlan0")}, "x", "https://[fe80::1]/#x"},
	}
	for _, tc := range cases {
		s := &Server{cfg: Config{AdvertiseIPs: tc.ips}, httpsLn: fakeListener{tc.listen}}
		if got := s.AppURL(tc.room); got != tc.want {
			t.Errorf("AppURL(%q) on %s %v = %s, want %s", tc.room, tc.listen, tc.ips, got, tc.want)
		}
	}
}

type fakeListener struct{ addr string }

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(l.addr))
}

// TestQRPage decodes the QR page's PNGs back into the two links.
func TestQRPage(t *testing.T) {
	cfg := testConfig(t)
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startServer(t, cfg)
	defer func() {
		if strings.Contains(logs.String(), "test+blob") || strings.Contains(logs.String(), "test%2Bblob") {
			t.Errorf("the blob (it holds the hub's ICE password) was logged:\n%s", logs.String())
		}
	}()
	c := httpsClient(t, s, "")
	base := "https://" + s.HTTPSAddr().String()
	for _, room := range []string{"", "Room 7"} {
		url, wantRoom := base+"/qr", "lobby"
		if room != "" {
			url, wantRoom = base+"/qr?room=Room%207", room
		}
		resp, page := get(t, c, url, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", url, resp.StatusCode)
		}
		srcs := regexp.MustCompile(`<img src="([^"]+)"`).FindAllStringSubmatch(page, -1)
		if len(srcs) != 2 {
			t.Fatalf("want 2 images in %s", page)
		}
		want := []string{s.AppURL(wantRoom), s.kibitzURL(wantRoom)}
		for i, m := range srcs {
			src := strings.ReplaceAll(m[1], "&amp;", "&")
			resp, data := get(t, c, base+src, "", "")
			if resp.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("%s: %s", src, resp.Header.Get("Content-Type"))
			}
			if got := decodeQR(t, []byte(data)); got != want[i] {
				t.Errorf("QR %s decodes to %q, want %q", src, got, want[i])
			}
		}
		if !strings.Contains(page, "Scan with your camera") || !strings.Contains(page, "kibitz.chat") {
			t.Errorf("captions missing")
		}
	}
	if resp, _ := get(t, c, base+"/qr?room="+strings.Repeat("x", 200), "", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("overlong room: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, base+"/qr/other.png", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown QR: %d", resp.StatusCode)
	}
}

func decodeQR(t testing.TB, data []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

// TestStaticApp serves every embedded file with its bytes, a module-safe
// content type, no-cache + ETag revalidation and the security headers.
func TestStaticApp(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := httpsClient(t, s, "")
	base := "https://" + s.HTTPSAddr().String()
	root := webapp.Files()
	n := 0
	err := fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, _ := fs.ReadFile(root, name)
		resp, body := get(t, c, base+"/"+name, "", "")
		if resp.StatusCode != http.StatusOK || body != string(want) {
			t.Errorf("%s: %d, body matches: %v", name, resp.StatusCode, body == string(want))
		}
		ct := resp.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(name, ".js") && !strings.HasPrefix(ct, "text/javascript"),
			strings.HasSuffix(name, ".css") && !strings.HasPrefix(ct, "text/css"),
			strings.HasSuffix(name, ".html") && !strings.HasPrefix(ct, "text/html"):
			t.Errorf("%s: Content-Type %s", name, ct)
		}
		checkAppHeaders(t, name, resp)
		// Revalidation: the ETag gives a 304.
		req, _ := http.NewRequest(http.MethodGet, base+"/"+name, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		r2, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", name, r2.StatusCode)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk: %v, %d files", err, n)
	}
	resp, body := get(t, c, base+"/", "", "")
	index, _ := fs.ReadFile(root, "index.html")
	if resp.StatusCode != http.StatusOK || body != string(index) {
		t.Errorf("/ is not index.html")
	}
	if resp, _ := get(t, c, base+"/nope.js", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, base+"/../../etc/passwd", "", ""); resp.StatusCode == http.StatusOK {
		t.Errorf("path traversal answered 200")
	}
}

func checkAppHeaders(t testing.TB, name string, resp *http.Response) {
	t.Helper()
	h := resp.Header
	if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" {
		t.Errorf("%s: Cache-Control %q ETag %q, want no-cache and an ETag", name, h.Get("Cache-Control"), h.Get("ETag"))
	}
	pp := h.Get("Permissions-Policy")
	for _, f := range []string{"camera=(self)", "microphone=(self)", "display-capture=(self)"} {
		if !strings.Contains(pp, f) {
			t.Errorf("%s: Permissions-Policy %q lacks %s", name, pp, f)
		}
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Errorf("%s: HSTS would forbid accepting the self-signed certificate", name)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", name)
	}
}

// TestAppFiles checks types, ETags and gzip on a synthetic app.
func TestAppFiles(t *testing.T) {
	js := strings.Repeat("export const greeting = 'hello';\n", 100)
	files, err := loadAppFiles(fstest.MapFS{
		"index.html":     {Data: []byte("<!doctype html><title>x</title>")},
		"js/app.js":      {Data: []byte(js)},
		"js/mod.mjs":     {Data: []byte("export {}")},
		"css/app.css":    {Data: []byte("body{}")},
		"img/icon.svg":   {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"sub/index.html": {Data: []byte("sub")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, ct := range map[string]string{
		"/":             "text/html; charset=utf-8",
		"/js/app.js":    "text/javascript; charset=utf-8",
		"/js/mod.mjs":   "text/javascript; charset=utf-8",
		"/css/app.css":  "text/css; charset=utf-8",
		"/img/icon.svg": "image/svg+xml",
		"/sub/":         "text/html; charset=utf-8",
	} {
		f := files.lookup(path)
		if f == nil || f.contentType != ct {
			t.Errorf("%s: %+v, want %s", path, f, ct)
		}
	}
	if files.lookup("/js") != nil || files.lookup("/missing") != nil {
		t.Errorf("lookup invented a file")
	}
	if _, err := loadAppFiles(fstest.MapFS{"a.js": {Data: []byte("x")}}); err == nil {
		t.Errorf("an app without index.html was accepted")
	}

	// gzip for those that ask, with its own ETag; identical content.
	f := files.lookup("/js/app.js")
	if f.gz == nil {
		t.Fatalf("repetitive JS not compressed")
	}
	for _, enc := range []string{"", "gzip, deflate, br", "gzip;q=0"} {
		rec := newRecorder()
		req, _ := http.NewRequest(http.MethodGet, "/js/app.js", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		serveFile(rec, req, f)
		body := rec.buf.Bytes()
		gz := rec.h.Get("Content-Encoding") == "gzip"
		if gz != (enc == "gzip, deflate, br") {
			t.Errorf("Accept-Encoding %q: gzip %v", enc, gz)
		}
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
			if rec.h.Get("ETag") == f.etag {
				t.Errorf("gzip variant shares the identity ETag")
			}
		}
		if string(body) != js {
			t.Errorf("Accept-Encoding %q: body differs", enc)
		}
	}
}

// recorder is a minimal ResponseWriter.
type recorder struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// TestBadRequests: limits hold and garbage does not hurt the servers.
func TestBadRequests(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := httpsClient(t, s, "")
	base := "https://" + s.HTTPSAddr().String()

	req, _ := http.NewRequest(http.MethodGet, base+"/api/join", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("huge header: %d", resp.StatusCode)
		}
	}
	resp, err := c.Post(base+"/api/join", "application/octet-stream", bytes.NewReader(make([]byte, 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("1 MiB POST: %d", resp.StatusCode)
	}

	// Raw garbage on both ports, a half TLS handshake, then a normal request.
	for _, addr := range []string{s.HTTPSAddr().String(), s.HTTPAddr().String()} {
		for _, junk := range [][]byte{{0x16, 0x03, 0x01, 0xff, 0xff}, []byte("\x00\x01GARBAGE\r\n\r\n"), []byte("GET /" + strings.Repeat("%", 5000) + " HTTP/1.1\r\n\r\n")} {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.Write(junk)
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			io.Copy(io.Discard, conn)
			conn.Close()
		}
	}
	if resp, _ := get(t, c, base+"/api/join", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("after garbage: %d", resp.StatusCode)
	}
	if resp, _ := get(t, httpClient(""), "http://"+s.HTTPAddr().String()+"/generate_204", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("captive after garbage: %d", resp.StatusCode)
	}
}
