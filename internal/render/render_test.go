package render

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/")

// Panel sizes: the OLEDs, the two e-ink panels, an HDMI TV.
var sizes = []image.Point{{128, 64}, {250, 122}, {1280, 720}}

func stations(n int) []status.Station {
	s := make([]status.Station, n)
	for i := range s {
		s[i] = status.Station{MAC: fmt.Sprintf("02:00:00:00:00:%02x", i), Authorized: true}
	}
	return s
}

// scenarios are the statuses the goldens cover.
func scenarios() map[string]Input {
	sample := Sample
	out := map[string]Input{}

	out["wpa2-3people"] = sample()

	in := sample()
	in.Hub = nil
	out["no-hub"] = in

	in = sample()
	in.Hotspot = &status.Hotspot{State: status.StateNoWiFi, Error: "no AP-capable interface"}
	out["no-wifi"] = in

	out["nothing"] = Input{}

	in = sample()
	in.Hotspot.Security, in.Hotspot.Passphrase = "open", ""
	in.Hotspot.WiFiQR = "WIFI:T:nopass;S:Kibitz-7F3A;;"
	in.Hotspot.Stations = nil
	in.Hub.InCall, in.Hub.Sessions, in.Hub.Rooms = 0, 0, nil
	out["open-0people"] = in

	in = sample()
	in.Hub.InCall, in.Hub.Sessions = 12, 12
	in.Hub.Rooms = []status.Room{{Name: "lobby", Members: 9}, {Name: "stage", Members: 3}}
	in.Hotspot.Stations = stations(12)
	out["12people-2rooms"] = in

	in = sample()
	in.Hotspot.SSID = "Kibitz Community Hall Stage Two"
	in.Hotspot.Passphrase = "correct-horse-battery-staple"
	in.Hotspot.WiFiQR = status.WiFiQR(status.SecurityWPA2, in.Hotspot.SSID, in.Hotspot.Passphrase, false)
	out["long-ssid"] = in

	in = sample()
	in.Hotspot.SSID = "Café Größe ☕ 東京"
	in.Hotspot.Passphrase = "pässwörd-ñ"
	in.Hotspot.WiFiQR = status.WiFiQR(status.SecurityWPA2, in.Hotspot.SSID, in.Hotspot.Passphrase, false)
	in.Hub.AppURL = "https://10.42.0.1/#küche"
	in.Hub.Rooms = []status.Room{{Name: "küche", Members: 3}}
	out["non-ascii"] = in

	in = sample()
	in.Hotspot.Stations = stations(32)
	in.Hotspot.SecurityFallback = "driver cannot do WPA2 in AP mode"
	out["full-fallback"] = in
	return out
}

func TestGoldenAndDecode(t *testing.T) {
	for name, in := range scenarios() {
		for _, size := range sizes {
			pages := 1
			for page := 0; page < pages; page++ {
				f, err := Render(size, in, Options{Page: page})
				if err != nil {
					t.Fatalf("%s %v: %v", name, size, err)
				}
				pages = f.Pages
				file := fmt.Sprintf("%s-%dx%d", name, size.X, size.Y)
				if f.Pages > 1 {
					file += fmt.Sprintf("-p%d", page)
				}
				checkGolden(t, filepath.Join("testdata", file+".png"), f.Image)
				for _, q := range f.QRs {
					if got := decode(t, f.Image, q, small(size)); got != q.Payload {
						t.Errorf("%s: QR v%d-%s %dpx decodes to %q, want %q", file, q.Version, q.Level, q.Module, got, q.Payload)
					}
				}
				checkExpectedCodes(t, file, in, f)
			}
		}
	}
}

// checkExpectedCodes asserts which codes a frame carries: both when both
// daemons are up (over the pages on small panels), none for a daemon that
// is down.
func checkExpectedCodes(t *testing.T, file string, in Input, f *Frame) {
	t.Helper()
	want := map[string]bool{}
	if p := in.wifiPayload(); p != "" {
		want[p] = true
	}
	if p := in.callPayload(); p != "" {
		want[p] = true
	}
	if f.Pages != max(1, len(want)) && f.Pages != 1 {
		t.Errorf("%s: %d pages for %d codes", file, f.Pages, len(want))
	}
	for _, q := range f.QRs {
		if !want[q.Payload] {
			t.Errorf("%s: unexpected code %q", file, q.Payload)
		}
	}
	if f.Pages == 1 && len(f.QRs) != len(want) {
		t.Errorf("%s: %d codes drawn, want %d", file, len(f.QRs), len(want))
	}
}

func TestCarouselShowsEachCode(t *testing.T) {
	in := Sample()
	seen := map[string]bool{}
	for page := 0; page < 2; page++ {
		f, err := Render(image.Pt(128, 64), in, Options{Page: page})
		if err != nil {
			t.Fatal(err)
		}
		if f.Pages != 2 || len(f.QRs) != 1 {
			t.Fatalf("page %d: %d pages, %d codes; want 2 pages of 1", page, f.Pages, len(f.QRs))
		}
		seen[f.QRs[0].Payload] = true
	}
	if !seen[in.Hotspot.WiFiQR] || !seen[in.Hub.AppURL] {
		t.Errorf("carousel showed %v, want both codes", seen)
	}
}

func TestShiftMovesContent(t *testing.T) {
	in := Sample()
	a, err := Render(image.Pt(128, 64), in, Options{Shift: 0})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(image.Pt(128, 64), in, Options{Shift: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.QRs[0].Rect.Min.X - a.QRs[0].Rect.Min.X; got != 2 {
		t.Errorf("shift 2 moved the code by %d px", got)
	}
	// Every pixel of a, moved by 2, is in b.
	for y := 0; y < 64; y++ {
		for x := 0; x < 128-2; x++ {
			if a.Image.GrayAt(x, y) != b.Image.GrayAt(x+2, y) {
				t.Fatalf("pixel (%d,%d) differs after the shift", x, y)
			}
		}
	}
}

func TestWideShowsBothCodesSideBySide(t *testing.T) {
	for _, size := range sizes[1:] {
		f, err := Render(size, Sample(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.QRs) != 2 {
			t.Fatalf("%v: %d codes, want 2", size, len(f.QRs))
		}
		if f.QRs[0].Rect.Overlaps(f.QRs[1].Rect) {
			t.Errorf("%v: codes overlap: %v %v", size, f.QRs[0].Rect, f.QRs[1].Rect)
		}
		// Arm's length: at least 3 px modules on e-ink, far more on a TV.
		minModule := 3
		if size.Y > 300 {
			minModule = 8
		}
		for _, q := range f.QRs {
			if q.Module < minModule || q.Quiet < 2 {
				t.Errorf("%v: %q at %d px/module, quiet %d modules", size, q.Payload, q.Module, q.Quiet)
			}
		}
	}
}

func TestTooLongPayloadIsAnError(t *testing.T) {
	in := Sample()
	in.Hub.AppURL = "https://10.42.0.1/#" + strings.Repeat("x", 2000)
	_, err := Render(image.Pt(128, 64), in, Options{Page: 1})
	if !errors.Is(err, ErrQRTooBig) {
		t.Errorf("err = %v, want ErrQRTooBig", err)
	}
}

func TestWiFiPayloadEscaping(t *testing.T) {
	in := Input{Hotspot: &status.Hotspot{State: status.StateRunning, SSID: `a;b\c`, Security: "wpa2", Passphrase: `p:"q,`}}
	want := `WIFI:T:WPA;S:a\;b\\c;P:p\:\"q\,;;`
	if got := in.wifiPayload(); got != want {
		t.Errorf("wifiPayload = %q, want %q", got, want)
	}
	// A hidden network built from the fields (a hotspot that sent no
	// wifi_qr) says so, as the hotspot's own payload does.
	in.Hotspot.Hidden = true
	if got, want := in.wifiPayload(), status.WiFiQR(status.SecurityWPA2, `a;b\c`, `p:"q,`, true); got != want || !strings.Contains(got, ";H:true;") {
		t.Errorf("hidden wifiPayload = %q, want %q with H:true", got, want)
	}
}

// Without the hub's document the call QR still shows when the display
// knows the app URL (CallURL); only the live line says the status is gone.
func TestCallQRWithoutHubStatus(t *testing.T) {
	in := Sample()
	url := in.Hub.AppURL
	in.Hub, in.CallURL = nil, url
	if got := in.callPayload(); got != url || in.callTrouble() != "" {
		t.Fatalf("callPayload %q trouble %q, want %q", got, in.callTrouble(), url)
	}
	for _, size := range sizes {
		f, err := Render(size, in, Options{Page: 1})
		if err != nil {
			t.Fatalf("%v: %v", size, err)
		}
		found := false
		for _, q := range f.QRs {
			found = found || q.Payload == url && decode(t, f.Image, q, small(size)) == url
		}
		if !found {
			t.Errorf("%v: no call QR decoding to %q", size, url)
		}
	}
}

func TestWrapAndFit(t *testing.T) {
	st := textStyle{font5x8, 1}
	if got := st.wrap("Kibitz Community Hall", 60, 3); strings.Join(got, "|") != "Kibitz|Community|Hall" {
		t.Errorf("wrap = %q", got)
	}
	if got := st.wrap("abcdefghijklmnopqrstuvwxyz", 60, 2); strings.Join(got, "|") != "abcdefghijkl|mnopqrstuvw…" {
		t.Errorf("wrap = %q", got)
	}
	if got := st.fit("東京☕ok\x07", 100); got != "???ok?" {
		t.Errorf("fit = %q", got)
	}
	if got := st.fit("e\u0301t\u00e9", 100); got != "et\u00e9" {
		t.Errorf("fit with a combining mark = %q", got)
	}
}

func TestOddSizes(t *testing.T) {
	for _, size := range []image.Point{{64, 32}, {128, 32}, {200, 100}, {212, 104}, {320, 240}, {800, 480}, {1920, 1080}} {
		for name, in := range scenarios() {
			f, err := Render(size, in, Options{Page: 1, Shift: 7})
			if err != nil {
				if errors.Is(err, ErrQRTooBig) && size.Y <= 32 {
					continue // a long Wi-Fi code cannot fit 32 px
				}
				t.Fatalf("%s %v: %v", name, size, err)
			}
			if f.Image.Rect.Size() != size {
				t.Fatalf("%s %v: image %v", name, size, f.Image.Rect)
			}
			for _, q := range f.QRs {
				if !q.Rect.In(f.Image.Rect) {
					t.Errorf("%s %v: code %v outside the image", name, size, q.Rect)
				}
				if got := decode(t, f.Image, q, small(size)); got != q.Payload {
					t.Errorf("%s %v: code decodes to %q", name, size, got)
				}
			}
		}
	}
}

// FuzzRender feeds arbitrary names and links (they come from the network
// via the status JSON): rendering must never panic, only refuse a code
// that cannot fit.
func FuzzRender(f *testing.F) {
	f.Add("Kibitz-7F3A", "plum-otter-42", "https://10.42.0.1/#lobby", 3)
	f.Add("", "", "", 0)
	f.Add("\x00\xff;\\\"東京☕", "\u200b\u0301", "::::", -5)
	f.Add(strings.Repeat("W", 300), strings.Repeat("é", 100), "https://"+strings.Repeat("a", 3000), 1<<30)
	f.Fuzz(func(t *testing.T, ssid, pass, appURL string, people int) {
		in := Sample()
		in.Hotspot.SSID, in.Hotspot.Passphrase, in.Hotspot.WiFiQR = ssid, pass, ""
		in.Hub.AppURL, in.Hub.InCall = appURL, people
		for _, size := range sizes {
			for page := 0; page < 2; page++ {
				if _, err := Render(size, in, Options{Page: page}); err != nil && !errors.Is(err, ErrQRTooBig) {
					t.Fatalf("%v: %v", size, err)
				}
			}
		}
	})
}

// decode reads the code q back from img the way a camera would see it:
// cropped with a band of the surroundings (dark beyond the panel's edge)
// and magnified.
func decode(t *testing.T, img *image.Gray, q QR, darkSurround bool) string {
	t.Helper()
	zoom := 1
	if q.Module < 4 {
		zoom = 4
	}
	pad := 2 * q.Module
	r := q.Rect.Inset(-pad)
	out := image.NewGray(image.Rect(0, 0, r.Dx()*zoom, r.Dy()*zoom))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			p := image.Pt(r.Min.X+x/zoom, r.Min.Y+y/zoom)
			v := ink
			if !darkSurround {
				v = light
			}
			if p.In(img.Rect) {
				v = img.GrayAt(p.X, p.Y).Y
			}
			out.Pix[y*out.Stride+x] = v
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "decode error: " + err.Error()
	}
	return res.GetText()
}

func checkGolden(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", path, err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	if !want.Bounds().Eq(img.Bounds()) {
		t.Fatalf("%s: size %v, golden %v", path, img.Bounds(), want.Bounds())
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g1, _, _, _ := img.At(x, y).RGBA()
			g2, _, _, _ := want.At(x, y).RGBA()
			if g1>>8 != g2>>8 {
				t.Errorf("%s: pixel (%d,%d) = %d, golden %d (go test -update to accept)", path, x, y, g1>>8, g2>>8)
				return
			}
		}
	}
}

// BenchmarkRender measures one frame of the sample status per panel size
// (the display renders only when the status, page or shift changed).
func BenchmarkRender(b *testing.B) {
	for _, size := range []image.Point{{128, 64}, {250, 122}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(b *testing.B) {
			in := Sample()
			for b.Loop() {
				if _, err := Render(size, in, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// In Ethernet mode the hotspot publishes the venue's Wi-Fi (which the box
// does not run): the Wi-Fi QR and the name and passphrase beside it are the
// venue's, and the call QR is the hub's app URL on the LAN address.
func TestEthernetModeShowsVenueWiFi(t *testing.T) {
	venueQR := status.WiFiQR(status.SecurityWPA2, "Cafe Venue", "espresso-42", false)
	in := Sample()
	in.Hotspot.WiFiQR = venueQR
	in.Hotspot.GuestSource = "ethernet"
	in.Hotspot.Venue = &status.Venue{SSID: "Cafe Venue", Passphrase: "espresso-42"}
	in.Hub.AppURL = "https://192.168.77.1/#lobby"
	if got := in.wifiPayload(); got != venueQR {
		t.Errorf("wifiPayload = %q, want the venue's %q", got, venueQR)
	}
	if in.wifiName() != "Cafe Venue" || in.wifiPassphrase() != "espresso-42" || !in.wpa2() {
		t.Errorf("beside the QR: %q %q wpa2=%v, want the venue's", in.wifiName(), in.wifiPassphrase(), in.wpa2())
	}
	if in.shortAddress() != "192.168.77.1" {
		t.Errorf("short address %q, want the LAN address", in.shortAddress())
	}
	f, err := Render(sizes[2], in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var payloads []string
	for _, q := range f.QRs {
		payloads = append(payloads, q.Payload)
	}
	if len(payloads) != 2 || payloads[0] != venueQR && payloads[1] != venueQR || !strings.Contains(strings.Join(payloads, " "), "https://192.168.77.1/") {
		t.Errorf("HDMI codes %q, want the venue Wi-Fi and the LAN app URL", payloads)
	}
	// An open venue network: no password line.
	in.Hotspot.Venue.Passphrase = ""
	if in.wpa2() {
		t.Error("an open venue network shows a password")
	}
}
