package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

// HotspotClient talks to the hotspot's loopback status and control API.
type HotspotClient struct {
	// Base is the hotspot's loopback address, e.g. "http://127.0.0.1:8078".
	Base   string
	Client *http.Client
}

// NewHotspotClient returns a client for the hotspot at addr (host:port).
func NewHotspotClient(addr string) *HotspotClient {
	return &HotspotClient{Base: "http://" + addr, Client: &http.Client{Timeout: 5 * time.Second}}
}

// Status is the hotspot's /status document.
func (c *HotspotClient) Status(ctx context.Context) (status.Hotspot, error) {
	var hs status.Hotspot
	err := status.Fetch(ctx, c.Client, c.Base+"/status", &hs)
	return hs, err
}

// Reload has the hotspot re-read the settings file and restart the AP
// when the Wi-Fi settings changed.
func (c *HotspotClient) Reload(ctx context.Context) error {
	return c.post(ctx, status.ReloadPath, struct{}{})
}

// Ban has the hotspot deauthenticate the station that holds ip's lease
// and refuse it for d.
func (c *HotspotClient) Ban(ctx context.Context, ip netip.Addr, d time.Duration) error {
	return c.post(ctx, status.BanPath, status.Ban{IP: ip.String(), Seconds: int(d.Seconds())})
}

func (c *HotspotClient) post(ctx context.Context, path string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("hotspot %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+path, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("hotspot %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return fmt.Errorf("hotspot %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("hotspot %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
