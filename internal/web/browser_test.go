package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// TestBrowserCameraAllowed loads the app from the HTTPS server in real
// headless chromium (fake camera and microphone) and calls getUserMedia in
// the page: the server's Permissions-Policy and CSP must not block it, and
// the page must be a secure context. The browser ignores certificate
// errors only here; guests click through the warning once.
func TestBrowserCameraAllowed(t *testing.T) {
	testenv.Short(t, "headless chromium")
	chromium := testenv.RequireProgram(t, "chromium")[0]
	s := startServer(t, testConfig(t))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
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
