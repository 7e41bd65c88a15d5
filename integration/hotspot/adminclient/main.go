// Command adminclient changes the Wi-Fi passphrase through the hub's
// operator API the way the operator page does: it reads the operator code
// from the hub's loopback status (as the box's screen does), unlocks, reads
// the current settings and posts them back with the new passphrase. The
// hotspot VM test runs it inside the VM, next to the real hub and hotspot.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

func main() {
	statusURL := flag.String("status", "http://127.0.0.1:8079/status", "the hub's loopback status")
	base := flag.String("base", "https://127.0.0.1:8443", "the hub's HTTPS address")
	pass := flag.String("passphrase", "", "the new Wi-Fi passphrase")
	flag.Parse()
	if err := run(*statusURL, *base, *pass); err != nil {
		fmt.Fprintln(os.Stderr, "adminclient:", err)
		os.Exit(1)
	}
}

func run(statusURL, base, pass string) error {
	if pass == "" {
		return fmt.Errorf("no -passphrase")
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	c := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		// The hub's certificate is self-signed, as on every box.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	var hub status.Hub
	if err := call(c, http.MethodGet, statusURL, nil, &hub); err != nil {
		return fmt.Errorf("reading the operator code: %w", err)
	}
	if hub.OperatorCode == "" {
		return fmt.Errorf("%s has no operator_code (hub without --admin?)", statusURL)
	}
	if err := call(c, http.MethodPost, base+"/api/admin/login", map[string]string{"code": hub.OperatorCode}, nil); err != nil {
		return fmt.Errorf("unlocking: %w", err)
	}
	var st admin.State
	if err := call(c, http.MethodGet, base+"/api/admin/state", nil, &st); err != nil {
		return err
	}
	wifi := st.Settings.WiFi
	wifi.Passphrase = pass
	if err := call(c, http.MethodPost, base+"/api/admin/wifi", wifi, nil); err != nil {
		return fmt.Errorf("setting the passphrase: %w", err)
	}
	fmt.Printf("ssid=%s security=%s passphrase set\n", wifi.SSID, wifi.Security)
	return nil
}

// call sends body as JSON (if any) and decodes a JSON answer into out (if
// any); a status other than 2xx is an error carrying the hub's message.
func call(c *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(msg, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}
