package web

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	uaCNA          = "CaptiveNetworkSupport-481.40.2 wispr"
	uaIPhone       = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
	uaMac          = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
	uaAndroidProbe = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.32 Safari/537.36"
	uaAndroidPhone = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
	uaChromeOS     = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaNCSI         = "Microsoft NCSI"
	uaEdge         = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
	uaFirefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaFirefoxWin   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaNM           = "NetworkManager/1.46.0"
)

// TestCaptiveProbes walks each OS probe through the portal: before release
// it gets the splash for its OS (again on a repeat probe: the splash alone
// must not release, or iOS's sheet would load "Success" instead of it),
// the splash's button releases the client, and then the probe gets exactly
// the success answer that OS expects. Another client is still captive.
func TestCaptiveProbes(t *testing.T) {
	s := startServer(t, testConfig(t))
	base := "http://" + s.HTTPAddr().String()
	cases := []struct {
		name, host, path, ua string
		wantOS               string
		wantHint             []string // in the splash
		wantStatus           int      // after release
		wantBody             string
		wantNMHeader         bool
	}{
		{"apple CNA probe", "captive.apple.com", "/hotspot-detect.html", uaCNA, osIOS,
			[]string{"Safari", "then Done", "Show Details"}, 200, appleSuccess, false},
		{"iOS websheet", "captive.apple.com", "/hotspot-detect.html", uaIPhone, osIOS,
			[]string{"Safari", "then Done"}, 200, appleSuccess, false},
		{"apple other host", "www.apple.com", "/library/test/success.html", uaIPhone, osIOS,
			[]string{"Safari"}, 200, appleSuccess, false},
		{"old iOS random host", "www.ibook.info", "/Xq3/k9c.html", uaCNA, osIOS,
			[]string{"Safari"}, 200, appleSuccess, false},
		{"macOS", "captive.apple.com", "/hotspot-detect.html", uaMac, osMacOS,
			[]string{"Click Continue", "Chrome"}, 200, appleSuccess, false},
		{"android generate_204", "connectivitycheck.gstatic.com", "/generate_204", uaAndroidProbe, osAndroid,
			[]string{"Use this network as is", "turn off mobile data", "Advanced → Proceed"}, 204, "", false},
		{"android gen_204", "www.google.com", "/gen_204", uaAndroidPhone, osAndroid,
			[]string{"Use this network as is"}, 204, "", false},
		{"chromeos generate_204", "clients3.google.com", "/generate_204", uaChromeOS, osLinux,
			[]string{"Open the call"}, 204, "", false},
		{"windows connecttest", "www.msftconnecttest.com", "/connecttest.txt", uaNCSI, osWindows,
			[]string{"Open the call", "No internet", "Continue (Edge)"}, 200, msConnectTest, false},
		{"windows ncsi", "www.msftncsi.com", "/ncsi.txt", uaNCSI, osWindows,
			[]string{"Open the call"}, 200, msNCSI, false},
		{"firefox linux", "detectportal.firefox.com", "/success.txt", uaFirefoxLinux, osLinux,
			[]string{"Open the call", "Accept the Risk"}, 200, firefoxSuccess, false},
		{"firefox canonical windows", "detectportal.firefox.com", "/canonical.html", uaFirefoxWin, osWindows,
			[]string{"Accept the Risk"}, 200, firefoxCanonical, false},
		{"gnome nmcheck", "nmcheck.gnome.org", "/check_network_status.txt", uaNM, osLinux,
			[]string{"Open the call"}, 200, nmOnline, true},
		{"gnome nmcheck short path", "nmcheck.gnome.org", "/nmcheck", uaNM, osLinux,
			nil, 200, nmOnline, true},
		{"ubuntu", "connectivity-check.ubuntu.com", "/", uaNM, osLinux,
			nil, 204, "", true},
		{"fedora", "fedoraproject.org", "/static/hotspot.txt", uaNM, osLinux,
			nil, 200, fedoraHotspotOK, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := httpClient(fmt.Sprintf("127.0.1.%d", 10+i))
			appURL := s.AppURL("lobby")
			for try := range 2 {
				resp, body := get(t, client, base+tc.path, tc.host, tc.ua)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("probe %d before release: status %d, want 200 splash", try, resp.StatusCode)
				}
				if !strings.Contains(body, fmt.Sprintf(`data-os="%s"`, tc.wantOS)) {
					t.Fatalf("splash is not for %s:\n%s", tc.wantOS, body)
				}
				if !strings.Contains(body, `value="`+appURL+`"`) {
					t.Errorf("splash lacks the link %s", appURL)
				}
				for _, h := range tc.wantHint {
					if !strings.Contains(body, h) {
						t.Errorf("splash for %s lacks %q", tc.name, h)
					}
				}
				if body == tc.wantBody || strings.Contains(body, "<BODY>Success") {
					t.Fatalf("unreleased client got the success answer")
				}
				if got := resp.Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", got)
				}
			}

			// The splash's primary button releases the client.
			_, splash := get(t, client, base+tc.path, tc.host, tc.ua)
			var button string
			switch {
			case strings.Contains(splash, `href="`+captiveReleaseURL+`"`):
				button = captiveReleaseURL
			case strings.Contains(splash, `href="`+captiveGoURL+`"`):
				button = captiveGoURL
			default:
				t.Fatalf("splash has no release button")
			}
			resp, body := get(t, client, base+button, tc.host, tc.ua)
			if button == captiveGoURL {
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != appURL {
					t.Fatalf("%s: %d to %q, want 302 to %s", button, resp.StatusCode, resp.Header.Get("Location"), appURL)
				}
			} else if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are set") {
				t.Fatalf("%s: %d %q", button, resp.StatusCode, body)
			}

			resp, body = get(t, client, base+tc.path, tc.host, tc.ua)
			if resp.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Fatalf("after release: %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if got := resp.Header.Get(nmStatusHeader); tc.wantNMHeader != (got == "online") {
				t.Errorf("%s header %q, want it: %v", nmStatusHeader, got, tc.wantNMHeader)
			}

			// Release is per client.
			other := httpClient(fmt.Sprintf("127.0.2.%d", 10+i))
			if resp, body := get(t, other, base+tc.path, tc.host, tc.ua); resp.StatusCode != http.StatusOK || !strings.Contains(body, "data-os=") {
				t.Fatalf("another client was released too: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestCaptiveRedirects: anything that is not a probe goes to the app.
func TestCaptiveRedirects(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdvertiseIPs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	s := startServer(t, cfg)
	base := "http://" + s.HTTPAddr().String()
	_, port, _ := net.SplitHostPort(s.HTTPSAddr().String())
	client := httpClient("127.0.3.1")

	cases := []struct{ method, host, path, want string }{
		{"GET", "example.com", "/some/page?q=1", s.AppURL("")},
		{"GET", "", "/", "https://127.0.0.1:" + port + "/"},
		{"GET", "", "/qr?room=x", "https://127.0.0.1:" + port + "/qr?room=x"},
		{"GET", HostName, "/api/join", "https://" + HostName + ":" + port + "/api/join"},
		{"POST", "", "/login", "https://127.0.0.1:" + port + "/login"},
		{"GET", "www.msftconnecttest.com", "/redirect", ""}, // splash, below
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(""))
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tc.want == "" {
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
				t.Errorf("%s %s%s: %d, want the splash", tc.method, tc.host, tc.path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
			t.Errorf("%s %s%s: %d to %q, want 302 to %q", tc.method, tc.host, tc.path,
				resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}

	// After release, Windows' browser page goes to the app too.
	get(t, client, base+captiveGoURL, "", uaEdge)
	resp, _ := get(t, client, base+"/redirect", "www.msftconnecttest.com", uaEdge)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("released /redirect: %d, want 302", resp.StatusCode)
	}
}

// TestReleaseOnAppLoad: a guest who opens the app over HTTPS is released
// from the portal, so their phone stops showing the splash.
func TestReleaseOnAppLoad(t *testing.T) {
	s := startServer(t, testConfig(t))
	base := "http://" + s.HTTPAddr().String()
	const src = "127.0.4.1"
	if resp, _ := get(t, httpClient(src), base+"/generate_204", "", uaAndroidProbe); resp.StatusCode != http.StatusOK {
		t.Fatalf("before: %d, want the splash", resp.StatusCode)
	}
	if resp, _ := get(t, httpsClient(t, s, src), "https://"+s.HTTPSAddr().String()+"/", "", uaAndroidPhone); resp.StatusCode != http.StatusOK {
		t.Fatalf("app: %d", resp.StatusCode)
	}
	if resp, _ := get(t, httpClient(src), base+"/generate_204", "", uaAndroidProbe); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("after opening the app: %d, want 204", resp.StatusCode)
	}
	get(t, httpClient(src), "http://"+s.HTTPAddr().String()+"/elsewhere", "", "")
	want := Stats{CaptiveClients: 1, Splashes: 1, ProbeSuccesses: 1, Redirects: 1, AppLoads: 1}
	if got := s.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// TestCaptiveAPI checks the RFC 8908 document before and after release.
func TestCaptiveAPI(t *testing.T) {
	s := startServer(t, testConfig(t))
	client := httpClient("127.0.5.1")
	base := "http://" + s.HTTPAddr().String()
	for _, want := range []bool{true, false} {
		resp, body := get(t, client, base+"/captive-portal/api.json", "", "")
		if ct := resp.Header.Get("Content-Type"); ct != captiveAPIType {
			t.Errorf("content type %q", ct)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("decode %q: %v", body, err)
		}
		if doc["captive"] != want || doc["user-portal-url"] != s.AppURL("") {
			t.Errorf("api.json = %v, want captive %v and user-portal-url %s", doc, want, s.AppURL(""))
		}
		get(t, client, base+captiveReleaseURL, "", uaIPhone)
	}
}

// TestReleaseTable checks the bound and the expiry with a fake clock.
func TestReleaseTable(t *testing.T) {
	now := time.Unix(1000, 0)
	tab := newReleaseTable(3, time.Hour, func() time.Time { return now })
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 42, 0, byte(i)}) }

	if !tab.release(addr(1)) || tab.release(addr(1)) {
		t.Fatalf("release should report a new client once")
	}
	now = now.Add(time.Minute)
	tab.release(addr(2))
	now = now.Add(time.Minute)
	tab.release(addr(3))
	now = now.Add(time.Minute)
	tab.release(addr(4)) // full: evicts the oldest, addr(1)
	if tab.len() != 3 || tab.released(addr(1)) || !tab.released(addr(2)) || !tab.released(addr(4)) {
		t.Fatalf("bound: len %d, 1:%v 2:%v 4:%v", tab.len(), tab.released(addr(1)), tab.released(addr(2)), tab.released(addr(4)))
	}
	now = now.Add(time.Hour - 2*time.Minute) // addr(2) at exactly ttl, others younger
	if tab.released(addr(2)) || !tab.released(addr(3)) {
		t.Fatalf("expiry: 2:%v 3:%v", tab.released(addr(2)), tab.released(addr(3)))
	}
	now = now.Add(time.Hour)
	tab.release(addr(5))
	tab.release(addr(6))
	tab.release(addr(7)) // expired ones are dropped first
	if tab.len() != 3 || !tab.released(addr(5)) {
		t.Fatalf("after expiry: len %d", tab.len())
	}
	// 10 000 distinct clients never grow the table past its bound.
	for i := range 10000 {
		tab.release(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if tab.len() != 3 {
		t.Fatalf("len %d after a flood, want 3", tab.len())
	}
}
