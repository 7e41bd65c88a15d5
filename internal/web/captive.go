package web

import (
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Success answers the operating systems expect from their connectivity
// probes once a client is released.
const (
	appleSuccess      = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"
	msConnectTest     = "Microsoft Connect Test"
	msNCSI            = "Microsoft NCSI"
	firefoxSuccess    = "success\n"
	firefoxCanonical  = `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`
	nmOnline          = "NetworkManager is online\n"
	fedoraHotspotOK   = "OK\n"
	captiveAPIType    = "application/captive+json"
	nmStatusHeader    = "X-NetworkManager-Status"
	captiveReleaseURL = "/captive/release"
	captiveGoURL      = "/captive/go"
)

// Operating systems, as the splash tells them apart.
const (
	osIOS     = "ios"
	osMacOS   = "macos"
	osAndroid = "android"
	osWindows = "windows"
	osLinux   = "linux"
	osOther   = "other"
)

// probe is one kind of connectivity check: the OS family it implies (empty
// when only the User-Agent can tell) and the answer meaning "online".
type probe struct {
	os      string
	success func(w http.ResponseWriter)
}

func textAnswer(body, contentType string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(body))
	}
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

func networkManagerAnswer(body string) func(http.ResponseWriter) {
	text := textAnswer(body, "text/plain; charset=utf-8")
	return func(w http.ResponseWriter) {
		w.Header().Set(nmStatusHeader, "online")
		if body == "" {
			noContent(w)
			return
		}
		text(w)
	}
}

var (
	probeApple   = &probe{os: "apple", success: textAnswer(appleSuccess, "text/html")}
	probeAndroid = &probe{os: osAndroid, success: noContent}
	probeWinTest = &probe{os: osWindows, success: textAnswer(msConnectTest, "text/plain")}
	probeWinNCSI = &probe{os: osWindows, success: textAnswer(msNCSI, "text/plain")}
	probeFirefox = &probe{success: textAnswer(firefoxSuccess, "text/plain")}
	probeFFCanon = &probe{success: textAnswer(firefoxCanonical, "text/html")}
	probeNM      = &probe{os: osLinux, success: networkManagerAnswer(nmOnline)}
	probeFedora  = &probe{os: osLinux, success: networkManagerAnswer(fedoraHotspotOK)}
	probeUbuntu  = &probe{os: osLinux, success: networkManagerAnswer("")}
	probeByPath  = map[string]*probe{
		"/hotspot-detect.html":       probeApple,
		"/library/test/success.html": probeApple,
		"/generate_204":              probeAndroid,
		"/gen_204":                   probeAndroid,
		"/connecttest.txt":           probeWinTest,
		"/ncsi.txt":                  probeWinNCSI,
		"/success.txt":               probeFirefox,
		"/canonical.html":            probeFFCanon,
		"/check_network_status.txt":  probeNM,
		"/nmcheck":                   probeNM,
		"/nm-check.txt":              probeNM,
		"/static/hotspot.txt":        probeFedora,
	}
	probeByHost = map[string]*probe{
		"captive.apple.com":                probeApple,
		"nmcheck.gnome.org":                probeNM,
		"connectivity-check.ubuntu.com":    probeUbuntu,
		"connectivitycheck.gstatic.com":    probeAndroid,
		"connectivitycheck.android.com":    probeAndroid,
		"clients3.google.com":              probeAndroid,
		"detectportal.firefox.com":         probeFirefox,
		"www.msftconnecttest.com":          probeWinTest,
		"www.msftncsi.com":                 probeWinNCSI,
		"connectivity-check.archlinux.org": probeNM,
		// Hosts older iOS versions probe with random paths.
		"www.appleiphonecell.com": probeApple,
		"www.ibook.info":          probeApple,
		"www.itools.info":         probeApple,
		"www.airport.us":          probeApple,
		"www.thinkdifferent.us":   probeApple,
	}
)

// classifyProbe recognises a connectivity probe by path, then by host.
// Well-known paths win: with captive DNS every host name reaches us.
func classifyProbe(host, path string) *probe {
	if p := probeByPath[path]; p != nil {
		return p
	}
	if host == "www.msftconnecttest.com" && path == "/redirect" {
		return nil // the page Windows opens in the browser: splash, not a probe
	}
	return probeByHost[host]
}

// detectOS names the client's OS from the probe and the User-Agent. The
// probe wins for Android, whose probe claims a desktop Linux Chrome, and
// for Windows' NCSI; Apple's probe is told iOS or macOS by the UA.
func detectOS(p *probe, ua string) string {
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(ua, x) {
				return true
			}
		}
		return false
	}
	fromUA := osOther
	switch {
	case has("iPhone", "iPad", "iPod"):
		fromUA = osIOS
	case has("Android"):
		fromUA = osAndroid
	case has("Windows", "Microsoft NCSI"):
		fromUA = osWindows
	case has("Macintosh", "Mac OS X"):
		fromUA = osMacOS
	case has("CrOS", "Linux", "X11", "NetworkManager"):
		fromUA = osLinux
	}
	if p == nil {
		return fromUA
	}
	switch p.os {
	case "apple":
		if fromUA == osMacOS {
			return osMacOS
		}
		return osIOS
	case osAndroid:
		if has("CrOS") {
			return osLinux
		}
		return osAndroid
	case osWindows:
		return osWindows
	case osLinux:
		if fromUA == osOther {
			return osLinux
		}
	}
	return fromUA
}

// releaseTable remembers which client addresses were released from the
// portal. Bounded; entries expire after ttl on the monotonic clock.
type releaseTable struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	at  map[netip.Addr]time.Time
}

func newReleaseTable(max int, ttl time.Duration, now func() time.Time) *releaseTable {
	return &releaseTable{max: max, ttl: ttl, now: now, at: map[netip.Addr]time.Time{}}
}

// release marks a as released and reports whether it was not already.
func (t *releaseTable) release(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	prev, had := t.at[a]
	fresh := !had || now.Sub(prev) >= t.ttl
	if !had && len(t.at) >= t.max {
		t.evictLocked(now)
	}
	t.at[a] = now
	return fresh
}

// evictLocked drops expired entries, or the oldest one if none expired.
func (t *releaseTable) evictLocked(now time.Time) {
	var oldest netip.Addr
	var oldestAt time.Time
	for a, at := range t.at {
		if now.Sub(at) >= t.ttl {
			delete(t.at, a)
			continue
		}
		if !oldest.IsValid() || at.Before(oldestAt) {
			oldest, oldestAt = a, at
		}
	}
	if len(t.at) >= t.max && oldest.IsValid() {
		delete(t.at, oldest)
	}
}

func (t *releaseTable) released(a netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.at[a]
	if ok && t.now().Sub(at) >= t.ttl {
		delete(t.at, a)
		return false
	}
	return ok
}

func (t *releaseTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.at)
}

// releaseClient releases the request's source address.
func (s *Server) releaseClient(r *http.Request, why string) {
	if a, ok := clientAddr(r); ok && s.released.release(a) {
		s.log.Info("web: captive portal released a client", "client", a.String(), "why", why)
	}
}

func (s *Server) isReleased(r *http.Request) bool {
	a, ok := clientAddr(r)
	return ok && s.released.released(a)
}

// requestHost is the Host header without port, lower case, no final dot.
func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
}

// ownHost reports whether host names this box (so a redirect can keep it).
func (s *Server) ownHost(host string) bool {
	if host == HostName || host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, ip := range s.cfg.AdvertiseIPs {
		if ip.Unmap() == a {
			return true
		}
	}
	return false
}

// httpsRedirect is where a plain-HTTP request is sent: the same path on
// the HTTPS server for our own names, the app for any other name.
func (s *Server) httpsRedirect(r *http.Request) string {
	host := requestHost(r)
	if !s.ownHost(host) {
		return s.AppURL("")
	}
	u := *r.URL
	u.Scheme = "https"
	u.Host = host
	if port := s.httpsPort(); port != 443 {
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	u.User = nil
	return u.String()
}

func (s *Server) captiveHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+captiveReleaseURL, func(w http.ResponseWriter, r *http.Request) {
		s.releaseClient(r, "tapped continue")
		s.renderSplash(w, r, detectOS(nil, r.UserAgent()), true)
	})
	mux.HandleFunc("GET "+captiveGoURL, func(w http.ResponseWriter, r *http.Request) {
		s.releaseClient(r, "opened the link")
		http.Redirect(w, r, s.AppURL(s.Calls().DefaultRoom), http.StatusFound)
	})
	mux.HandleFunc("GET /captive-portal/api.json", s.serveCaptiveAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, path := requestHost(r), r.URL.Path
		p := classifyProbe(host, path)
		released := s.isReleased(r)
		switch {
		case p != nil && released:
			s.counters.successes.Add(1)
			p.success(w)
		case p != nil:
			s.counters.splashes.Add(1)
			os := detectOS(p, r.UserAgent())
			s.log.Debug("web: captive splash", "client", r.RemoteAddr, "host", host, "path", path, "os", os)
			s.renderSplash(w, r, os, false)
		case host == "www.msftconnecttest.com" && path == "/redirect" && !released:
			s.counters.splashes.Add(1)
			s.renderSplash(w, r, osWindows, false)
		default:
			s.counters.redirects.Add(1)
			http.Redirect(w, r, s.httpsRedirect(r), http.StatusFound)
		}
	})
	return limitRequest(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Probes and the splash must never come from a cache, or a phone
		// keeps its old verdict.
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}))
}

// captiveAPI is the RFC 8908 captive-portal API document.
type captiveAPI struct {
	Captive       bool   `json:"captive"`
	UserPortalURL string `json:"user-portal-url,omitempty"`
}

func (s *Server) serveCaptiveAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, captiveAPIType, captiveAPI{Captive: !s.isReleased(r), UserPortalURL: s.AppURL("")})
}

// splashStep is the OS-specific advice on the splash.
type splashStep struct {
	// InSheet: the OS shows the splash in a captive mini-browser (no
	// camera, no new windows), so the button releases instead of linking.
	InSheet bool
	Steps   []string
	Cert    string
}

func stepsFor(os, ua string) splashStep {
	certChrome := "Your browser will warn about the certificate (the box makes its own): tap Advanced → Proceed."
	if strings.Contains(ua, "Firefox/") {
		certChrome = "Firefox will warn about the certificate (the box makes its own): click Advanced… → Accept the Risk and Continue."
	}
	switch os {
	case osIOS:
		return splashStep{InSheet: true, Steps: []string{
			"Copy the link above (or scan the call QR on the box's screen with the Camera app).",
			"Tap Continue below, then Done at the top right.",
			"Open Safari and paste the link.",
		}, Cert: "Safari will say “This Connection Is Not Private” (the box makes its own certificate): tap Show Details → visit this website → Visit Website."}
	case osMacOS:
		return splashStep{InSheet: true, Steps: []string{
			"Copy the link above.",
			"Click Continue below, then Done.",
			"Open the link in Safari, Chrome or Firefox.",
		}, Cert: "Your browser will warn about the certificate (the box makes its own): in Safari click Show Details → visit this website; in Chrome click Advanced → Proceed."}
	case osAndroid:
		return splashStep{InSheet: true, Steps: []string{
			"Copy the link above (or scan the call QR on the box's screen).",
			"Tap Continue below. If Android asks whether to stay on a network without internet, tap “Use this network as is” / “Yes”.",
			"Open the link in Chrome. If the page does not load, turn off mobile data.",
		}, Cert: "Chrome will warn about the certificate (the box makes its own): tap Advanced → Proceed to the box."}
	case osWindows:
		return splashStep{Steps: []string{
			"Click Open the call. Windows may say “No internet” for this Wi-Fi: that is expected, the call runs on the box.",
		}, Cert: strings.Replace(certChrome, "tap Advanced → Proceed", "click Advanced → Continue (Edge) or Proceed (Chrome)", 1)}
	default:
		return splashStep{Steps: []string{
			"Click Open the call. This Wi-Fi has no internet: the call runs on the box.",
		}, Cert: certChrome}
	}
}

var splashPage = template.Must(template.New("splash").Parse(`<!doctype html>
<html lang="en" data-os="{{.OS}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kibitz Box – join the call</title>
<style>
body{margin:0;font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#10141c;color:#eef1f6}
main{max-width:30rem;margin:0 auto;padding:1.5rem 1.2rem 2.5rem}
h1{font-size:1.45rem;margin:.2rem 0 .4rem}
p{margin:.5rem 0}
.link{display:flex;gap:.5rem;margin:1rem 0}
.link input{flex:1;min-width:0;font:inherit;font-size:1rem;padding:.6rem;border-radius:10px;border:1px solid #3a4458;background:#1b2130;color:#fff}
.link button{font:inherit;padding:.6rem .9rem;border-radius:10px;border:0;background:#3a4458;color:#fff}
.go{display:block;text-align:center;font-size:1.2rem;font-weight:600;padding:1rem;border-radius:14px;background:#2f7cf6;color:#fff;text-decoration:none;margin:1.2rem 0}
ol{padding-left:1.3rem}li{margin:.45rem 0}
.cert{background:#1b2130;border-radius:12px;padding:.8rem 1rem;font-size:.95rem;color:#c9d2e3}
.done{background:#173b26;border-radius:12px;padding:.8rem 1rem}
</style></head><body><main>
<h1>Video calls on this Wi-Fi</h1>
<p>This box runs the call itself, no internet needed.{{if .Step.InSheet}} The call opens in your normal browser: this little sign-in window cannot use the camera.{{end}}</p>
{{if .Released}}<p class="done">You are set: your phone will stop asking you to sign in.</p>{{end}}
<div class="link"><input id="link" readonly value="{{.AppURL}}" aria-label="Link to the call"><button id="copy" type="button">Copy</button></div>
<ol>{{range .Step.Steps}}<li>{{.}}</li>{{end}}</ol>
{{if .Step.InSheet}}{{if not .Released}}<a class="go" href="{{.ReleaseURL}}">Continue</a>{{end}}{{else}}<a class="go" href="{{.GoURL}}">Open the call</a>{{end}}
<p class="cert">{{.Step.Cert}}</p>
</main>
<script>
document.getElementById("copy").onclick = function () {
  var i = document.getElementById("link"); i.focus(); i.select(); i.setSelectionRange(0, 999);
  var ok = false; try { ok = document.execCommand("copy"); } catch (e) {}
  if (!ok && navigator.clipboard) { navigator.clipboard.writeText(i.value); ok = true; }
  this.textContent = ok ? "Copied" : "Select + copy";
};
</script>
</body></html>
`))

// renderSplash answers with the splash page (200, which every OS reads as
// "portal here") for os.
func (s *Server) renderSplash(w http.ResponseWriter, r *http.Request, os string, released bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	splashPage.Execute(w, struct {
		OS, AppURL, ReleaseURL, GoURL string
		Step                          splashStep
		Released                      bool
	}{os, s.AppURL(s.Calls().DefaultRoom), captiveReleaseURL, captiveGoURL, stepsFor(os, r.UserAgent()), released})
}
