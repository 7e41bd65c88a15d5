package web

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// TestBrowserCameraAllowed loads the app from internal/web's HTTPS server
// (no hub) in real headless chromium (fake camera and microphone) and
// calls getUserMedia in the page: the server's Permissions-Policy and CSP
// must not block it, and the page must be a secure context. The browser
// ignores certificate errors only here; guests click through the warning
// once.
func TestBrowserCameraAllowed(t *testing.T) {
	s, err := web.New(web.Config{
		StateDir:    t.TempDir(),
		HTTPSAddr:   "127.0.0.1:0",
		HTTPAddr:    "127.0.0.1:0",
		DefaultRoom: "lobby",
		RoomCap:     8,
		Blob:        func() string { return "g2|test+blob/x=" },
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	testenv.Serve(t, s.Run)

	opts := append(chromiumFlags(t), fakeMedia...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	type pageResult struct {
		Secure bool   `json:"secure"`
		Tracks int    `json:"tracks"`
		Err    string `json:"err"`
		Policy bool   `json:"policy"`
	}
	const probe = `(async () => {
		const r = {secure: window.isSecureContext, tracks: 0, err: "",
			policy: !document.featurePolicy || document.featurePolicy.allowsFeature("camera")};
		try {
			const s = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
			r.tracks = s.getTracks().length;
			s.getTracks().forEach(t => t.stop());
		} catch (e) { r.err = String(e); }
		return r;
	})()`
	if _, err := chromedp.Run(bctx, chromedp.Navigate(s.AppURL("lobby"))); err != nil {
		t.Fatalf("chromium: open the app: %v", err)
	}
	result, err := chromedp.Run(bctx, chromedp.Evaluate[pageResult](probe, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("chromium: getUserMedia probe: %v", err)
	}
	if !result.Secure || !result.Policy || result.Tracks != 2 || result.Err != "" {
		t.Fatalf("in the served page: secure context %v, camera allowed by policy %v, %d tracks, error %q",
			result.Secure, result.Policy, result.Tracks, result.Err)
	}
}
