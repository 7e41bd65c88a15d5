package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// chromium is one chromium process; its tabs are pages.
type chromium struct {
	ctx context.Context
}

// chromiumFlags are the flags every test browser gets; the certificate
// flag is test only (guests click through the hub's self-signed
// certificate once).
func chromiumFlags(t *testing.T) []chromedp.ExecAllocatorOption {
	path := testenv.RequireProgram(t, "chromium")[0]
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
}

func newChromium(t *testing.T, extra ...chromedp.ExecAllocatorOption) *chromium {
	t.Helper()
	opts := append(chromiumFlags(t), extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &chromium{ctx: ctx}
}

// fakeMedia are the flags that give chromium a fake camera and microphone
// and grant them without a prompt.
var fakeMedia = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("use-fake-ui-for-media-stream", true),
}

// chromiumTab is one chromium tab, the driver of a page.
type chromiumTab struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	logs   []string
}

func (c *chromiumTab) evalJSON(ctx context.Context, expr string) (string, error) {
	ctx, cancel := mergeCancel(c.ctx, ctx)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	return string(b), err
}

func (c *chromiumTab) kill() { c.cancel() }

// crash crashes the tab's renderer (CDP Page.crash): use it only on a tab
// that has its chromium to itself, as a renderer may host several tabs.
func (c *chromiumTab) crash() {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	_, _ = chromedp.Call(ctx, cdppage.Crash, cdp.Empty{})
}

func (c *chromiumTab) engine() string { return "chromium" }

// mergeCancel is ctx a with the deadline and cancellation of b as well.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// open loads url in a new tab.
func (b *chromium) open(t *testing.T, name, url string) *page {
	t.Helper()
	tab := b.newTab(t, name)
	p := &page{t: t, name: name, drv: tab}
	tab.run(t, chromedp.Navigate(url))
	return p
}

// newTab opens a blank tab that records its console.
func (b *chromium) newTab(t *testing.T, name string) *chromiumTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &chromiumTab{ctx: ctx, cancel: cancel}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(fmt.Sprint(a.Value), `"`)+a.Description)
			}
			tab.mu.Lock()
			tab.logs = append(tab.logs, string(e.Type)+": "+strings.Join(parts, " "))
			tab.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		tab.mu.Lock()
		defer tab.mu.Unlock()
		if t.Failed() && len(tab.logs) > 0 {
			t.Logf("%s console:\n%s", name, tail(strings.Join(tab.logs, "\n"), 3000))
		}
	})
	return tab
}

// run runs chromedp actions in the tab (chromium-only steps: screenshots,
// device emulation, lifecycle states).
func (c *chromiumTab) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
}

// cdpTab returns the chromium tab behind a page (the test fails for other engines).
func cdpTab(p *page) *chromiumTab {
	p.t.Helper()
	c, ok := p.drv.(*chromiumTab)
	if !ok {
		p.t.Fatalf("%s is not a chromium tab", p.name)
	}
	return c
}

// value runs one chromedp action that returns a value.
func value[T any](t *testing.T, c *chromiumTab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return v
}

// openChromium starts a chromium of its own (fake devices) and loads url.
func openChromium(t *testing.T, name, url string) *page {
	t.Helper()
	return newChromium(t, fakeMedia...).open(t, name, url)
}
