package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/integration/web/internal/bidi"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// firefoxPrefs go into each test profile's user.js: fake camera and
// microphone without a prompt, autoplay allowed (as chromium's
// --autoplay-policy flag), and no update, telemetry or HTTP/3 traffic.
const firefoxPrefs = `user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.block-webaudio", false);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.http.http3.enable", false);
`

// bidiListening is the line Firefox prints once its BiDi server is up.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// firefoxTab is one Firefox process with one tab, the driver of a page:
// one process per page, so killing it is killing that tab.
type firefoxTab struct {
	cmd     *exec.Cmd
	client  *bidi.Client
	context string
	done    chan struct{}

	mu   sync.Mutex
	logs []string
}

func (f *firefoxTab) evalJSON(ctx context.Context, expr string) (string, error) {
	v, err := f.client.Evaluate(ctx, f.context, expr)
	if err != nil {
		return "", err
	}
	if v.Type != "string" {
		return "", fmt.Errorf("firefox returned a %s, want a string", v.Type)
	}
	return string(v.Value), nil
}

// kill kills the Firefox process group with SIGKILL: the page runs no
// unload handler and sends nothing more (one process per page, so this is
// that tab killed).
func (f *firefoxTab) kill() {
	if f.cmd.Process != nil {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-f.done
}

func (f *firefoxTab) crash() { f.kill() }

func (f *firefoxTab) engine() string { return "firefox" }

// openFirefox starts headless firefox-esr with a fresh profile and loads url.
func openFirefox(t *testing.T, name, url string) *page {
	t.Helper()
	path := testenv.RequireProgram(t, "firefox-esr")[0]
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", "0", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+dir, "MOZ_CRASHREPORTER_DISABLE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	f := &firefoxTab{cmd: cmd, done: make(chan struct{})}
	wsURL := make(chan string, 1)
	var outMu sync.Mutex
	var out []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			out = append(out, line)
			outMu.Unlock()
			if m := bidiListening.FindStringSubmatch(line); m != nil {
				select {
				case wsURL <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		f.kill()
		if t.Failed() {
			f.mu.Lock()
			logs := strings.Join(f.logs, "\n")
			f.mu.Unlock()
			outMu.Lock()
			t.Logf("%s (firefox) console:\n%s\nfirefox stderr:\n%s", name, tail(logs, 3000), tail(strings.Join(out, "\n"), 2000))
			outMu.Unlock()
		}
	})
	var ws string
	select {
	case ws = <-wsURL:
	case <-f.done:
		t.Fatalf("firefox exited before its BiDi server listened: %s", strings.Join(out, "\n"))
	case <-time.After(60 * time.Second):
		t.Fatal("firefox did not start its BiDi server within 60 s")
	}
	// Generous: on a loaded machine a fresh Firefox takes tens of seconds
	// to open its first session and page.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	f.client, err = bidi.Dial(ctx, strings.TrimSuffix(ws, "/")+"/session", true, func(method string, params json.RawMessage) {
		if method != "log.entryAdded" {
			return
		}
		var e struct {
			Level string `json:"level"`
			Text  string `json:"text"`
		}
		_ = json.Unmarshal(params, &e)
		f.mu.Lock()
		f.logs = append(f.logs, e.Level+": "+e.Text)
		f.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("firefox BiDi session: %v", err)
	}
	if err := f.client.Subscribe(ctx, "log.entryAdded"); err != nil {
		t.Fatalf("firefox: %v", err)
	}
	res, err := f.client.Call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0})
	if err != nil {
		t.Fatalf("firefox: %v", err)
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(res, &tree); err != nil || len(tree.Contexts) == 0 {
		t.Fatalf("firefox: no tab in %s (%v)", res, err)
	}
	f.context = tree.Contexts[0].Context
	if err := f.client.Navigate(ctx, f.context, url); err != nil {
		t.Fatalf("firefox: open %s: %v", url, err)
	}
	return &page{t: t, name: name, drv: f}
}
