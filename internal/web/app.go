package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// Request limits for both servers. The app has no uploads; the only
// bodies are tiny, so anything big is refused.
const (
	maxHeaderBytes = 16 << 10
	maxBodyBytes   = 64 << 10
	// maxRoomLen bounds ?room= on the QR page.
	maxRoomLen = 128
)

// appFile is one embedded file, prepared once: content type, strong ETag and
// a gzip variant when that is smaller.
type appFile struct {
	name        string
	contentType string
	etag        string
	data        []byte
	gz          []byte
}

type appFiles struct {
	byPath map[string]*appFile // "/index.html", "/js/app.js", ...
}

// contentTypes fixes the types that matter for ES modules and the app, so
// they do not depend on /etc/mime.types (there is none on gokrazy).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webp":        "image/webp",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
	".map":         "application/json",
	".wasm":        "application/wasm",
	".mp3":         "audio/mpeg",
	".ogg":         "audio/ogg",
}

// loadAppFiles prepares every file of root (the embedded app).
func loadAppFiles(root fs.FS) (*appFiles, error) {
	files := &appFiles{byPath: map[string]*appFile{}}
	err := fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		ext := path.Ext(name)
		ct := contentTypes[ext]
		if ct == "" {
			ct = mime.TypeByExtension(ext)
		}
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		sum := sha256.Sum256(data)
		f := &appFile{
			name:        name,
			contentType: ct,
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			data:        data,
		}
		if compressible(ct) && len(data) > 512 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(data)
			zw.Close()
			if buf.Len() < len(data)*9/10 {
				f.gz = buf.Bytes()
			}
		}
		files.byPath["/"+name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read the embedded app: %w", err)
	}
	if files.byPath["/index.html"] == nil {
		return nil, fmt.Errorf("web: the embedded app has no index.html")
	}
	return files, nil
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "javascript") || strings.HasPrefix(ct, "image/svg")
}

// lookup maps a request path to a file: "/" and directories to index.html.
func (a *appFiles) lookup(p string) *appFile {
	p = path.Clean("/" + p)
	if f := a.byPath[p]; f != nil {
		return f
	}
	return a.byPath[strings.TrimSuffix(p, "/")+"/index.html"]
}

// serveFile answers with f. "no-cache" plus a content ETag: the browser
// revalidates every load (a cheap 304 on the box's Wi-Fi), so a reload
// after an update always gets the new files.
func serveFile(w http.ResponseWriter, r *http.Request, f *appFile) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	body, etag := f.data, f.etag
	if f.gz != nil && acceptsGzip(r) {
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// setSecurityHeaders is applied to every HTTPS response. No HSTS: it would
// forbid clicking through the self-signed certificate warning.
func setSecurityHeaders(h http.Header) {
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), fullscreen=(self), autoplay=(self), geolocation=(), usb=(), payment=()")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
		"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self' data:; "+
		"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// limitRequest refuses big bodies and methods nothing here needs.
func limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// JoinInfo is the /api/join document the app and the display read.
type JoinInfo struct {
	Blob    string `json:"blob"`
	Room    string `json:"room"`
	RoomCap int    `json:"room_cap"`
	// AirBudgetKbps is the relayed media rate the guests share (0: no
	// limit); the app sizes its video to it (docs/air.md).
	AirBudgetKbps int    `json:"air_budget_kbps"`
	AppURL        string `json:"app_url"`
	KibitzURL     string `json:"kibitz_url"`
}

func (s *Server) airBudget() int {
	if s.cfg.AirBudget == nil {
		return 0
	}
	return s.cfg.AirBudget()
}

// Join is the current join information for the default room.
func (s *Server) Join() JoinInfo {
	calls := s.Calls()
	room := calls.DefaultRoom
	return JoinInfo{
		Blob:          s.cfg.Blob(),
		Room:          room,
		RoomCap:       calls.RoomCap,
		AirBudgetKbps: s.airBudget(),
		AppURL:        s.AppURL(room),
		KibitzURL:     s.kibitzURL(room),
	}
}

func (s *Server) httpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/join", func(w http.ResponseWriter, r *http.Request) {
		s.counters.joins.Add(1)
		writeJSON(w, "application/json", s.Join())
	})
	mux.HandleFunc("GET /qr", s.serveQRPage)
	mux.HandleFunc("GET /qr/{which}", s.serveQRImage)
	mux.HandleFunc("GET /captive-portal/api.json", s.serveCaptiveAPI)
	if s.cfg.Admin != nil {
		mux.Handle("GET /api/admin/", s.cfg.Admin)
		mux.Handle("POST /api/admin/", s.cfg.Admin)
		mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
			serveFile(w, r, s.app.lookup("/admin.html"))
		})
	}
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		f := s.app.lookup(r.URL.Path)
		if f == nil {
			http.NotFound(w, r)
			return
		}
		if f.name == "index.html" {
			s.counters.appLoads.Add(1)
			// A guest who reached the app in a real browser is through the
			// portal: stop showing them the splash.
			s.releaseClient(r, "opened the app")
		}
		serveFile(w, r, f)
	})
	return limitRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		mux.ServeHTTP(w, r)
	}))
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// qrRoom reads ?room= for the QR page, defaulting to the default room.
func (s *Server) qrRoom(r *http.Request) (string, bool) {
	room := r.URL.Query().Get("room")
	if room == "" {
		return s.Calls().DefaultRoom, true
	}
	if len(room) > maxRoomLen || strings.ContainsAny(room, "\x00\r\n") {
		return "", false
	}
	return room, true
}

var qrPage = template.Must(template.New("qr").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join the call – Kibitz Box</title>
<style>
body{margin:0;font:16px/1.4 system-ui,sans-serif;background:#10141c;color:#eef1f6;text-align:center}
main{display:flex;flex-wrap:wrap;gap:2rem;justify-content:center;padding:2rem 1rem}
figure{margin:0;background:#1b2130;border-radius:16px;padding:1.2rem;max-width:22rem}
img{width:100%;max-width:20rem;height:auto;background:#fff;border-radius:8px;image-rendering:pixelated}
figcaption b{display:block;font-size:1.2rem;margin:.6rem 0 .2rem}
a{color:#8fc1ff;word-break:break-all;font-size:.85rem}
h1{font-size:1.5rem;margin:1.5rem 1rem 0}
.note{max-width:40rem;margin:0 auto 2rem;padding:0 1rem;color:#b8c0d0}
</style></head><body>
<h1>Join the call in “{{.Room}}”</h1>
<main>
<figure><img src="/qr/app.png?room={{.Room}}" width="320" height="320" alt="QR code for {{.AppURL}}">
<figcaption><b>Scan with your camera</b>Opens the call in your browser.<br><a href="{{.AppURL}}">{{.AppURL}}</a></figcaption></figure>
<figure><img src="/qr/kibitz.png?room={{.Room}}" width="320" height="320" alt="QR code for the kibitz.chat link">
<figcaption><b>Already use kibitz.chat?</b>Opens the same room in the Kibitz app.<br><a href="{{.KibitzURL}}">kibitz.chat link</a></figcaption></figure>
</main>
{{if .Laptop}}<p class="note">This call runs on a computer, not a Kibitz Box: guests join from the same Wi-Fi or network as this computer. There is no Wi-Fi QR and no sign-in page; they open the link or scan the code.</p>{{end}}
</body></html>
`))

func (s *Server) serveQRPage(w http.ResponseWriter, r *http.Request) {
	room, ok := s.qrRoom(r)
	if !ok {
		http.Error(w, "bad room name", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	qrPage.Execute(w, struct {
		Room, AppURL, KibitzURL string
		Laptop                  bool
	}{room, s.AppURL(room), s.kibitzURL(room), s.cfg.Laptop})
}

func (s *Server) serveQRImage(w http.ResponseWriter, r *http.Request) {
	room, ok := s.qrRoom(r)
	if !ok {
		http.Error(w, "bad room name", http.StatusBadRequest)
		return
	}
	var link string
	switch r.PathValue("which") {
	case "app.png":
		link = s.AppURL(room)
	case "kibitz.png":
		link = s.kibitzURL(room)
	default:
		http.NotFound(w, r)
		return
	}
	png, err := qrcode.Encode(link, qrcode.Medium, 512)
	if err != nil {
		s.log.Warn("web: QR code", "which", r.PathValue("which"), "len", len(link), "err", err)
		http.Error(w, "cannot make this QR code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

// clientAddr is the request's source IP.
func clientAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
