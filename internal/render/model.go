package render

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

// Input is what the screen shows: the two status documents, each nil when
// its daemon could not be reached.
type Input struct {
	Hub     *status.Hub
	Hotspot *status.Hotspot
	// CallURL is the call QR payload (the hub's app URL) when Hub is nil:
	// the last one the hub reported, or the one read from a document that
	// was too big or too slow to read whole. The URL does not change while
	// the hub runs, so a slow, oversized or failing /status keeps the QR.
	CallURL string `json:",omitempty"`
}

// wifiPayload is the WIFI: payload of the join QR, or "" when the network
// is not up.
func (in Input) wifiPayload() string {
	h := in.Hotspot
	if h == nil || h.State != status.StateRunning || h.SSID == "" {
		return ""
	}
	if h.WiFiQR != "" {
		return h.WiFiQR
	}
	// Older hotspot builds may not fill wifi_qr.
	security := status.SecurityOpen
	if h.Security == status.SecurityWPA2 && h.Passphrase != "" {
		security = status.SecurityWPA2
	}
	return status.WiFiQR(security, h.SSID, h.Passphrase, h.Hidden)
}

// callPayload is the call QR payload, or "" when it is not known. It
// comes from CallURL when the hub's document could not be read whole, so
// it never depends on the room list.
func (in Input) callPayload() string {
	if in.Hub != nil && in.Hub.AppURL != "" {
		return in.Hub.AppURL
	}
	return in.CallURL
}

// shortAddress is what a guest can type instead of scanning: the host of
// the app URL (the hub also answers plain http on port 80).
func (in Input) shortAddress() string {
	p := in.callPayload()
	if p == "" {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Host == "" {
		return p
	}
	return u.Host
}

func (in Input) wpa2() bool {
	if in.Hotspot != nil && in.Hotspot.Venue != nil {
		return in.Hotspot.Venue.Passphrase != ""
	}
	return in.Hotspot != nil && in.Hotspot.Security == "wpa2" && in.Hotspot.Passphrase != ""
}

// wifiName and wifiPassphrase are the network the Wi-Fi QR joins: the
// venue's in Ethernet mode, else the box's.
func (in Input) wifiName() string {
	if v := in.Hotspot.Venue; v != nil {
		return v.SSID
	}
	return in.Hotspot.SSID
}

func (in Input) wifiPassphrase() string {
	if v := in.Hotspot.Venue; v != nil {
		return v.Passphrase
	}
	return in.Hotspot.Passphrase
}

// wifiTrouble says why there is no Wi-Fi QR, or "" when there is one.
func (in Input) wifiTrouble() string {
	h := in.Hotspot
	switch {
	case h == nil:
		return "Wi-Fi starting…"
	case h.State == status.StateStarting:
		return "Wi-Fi starting…"
	case h.State == status.StateNoWiFi:
		return "No Wi-Fi adapter"
	case h.State != status.StateRunning:
		return "Wi-Fi error"
	case h.SSID == "":
		return "Wi-Fi starting…"
	}
	return ""
}

// callTrouble says why there is no call QR, or "" when there is one.
func (in Input) callTrouble() string {
	if in.callPayload() == "" {
		return "Call starting…"
	}
	return ""
}

// liveLines are variants of the live line, longest first.
func (in Input) liveLines() []string {
	if in.Hub == nil && in.CallURL != "" {
		return []string{"call: no status", "no status"}
	}
	if in.Hub == nil {
		return []string{"call: starting…"}
	}
	people, rooms := in.Hub.InCall, 0
	for _, r := range in.Hub.Rooms {
		if r.Members > 0 {
			rooms++
		}
	}
	if people == 0 {
		return []string{"Nobody in the call yet", "Nobody in call", "0 in call"}
	}
	p := plural(people, "person", "people")
	if rooms <= 1 {
		return []string{p + " in the call", p + " in call", fmt.Sprintf("%d in call", people)}
	}
	return []string{
		fmt.Sprintf("%s in %d rooms", p, rooms),
		fmt.Sprintf("%d in call, %d rooms", people, rooms),
		fmt.Sprintf("%d in %d rooms", people, rooms),
		fmt.Sprintf("%d in call", people),
	}
}

// healthLines are variants of the health line, longest first; warn is set
// when something is down.
func (in Input) healthLines() (variants []string, warn bool) {
	h := in.Hotspot
	var long, short []string
	switch {
	case h == nil:
		long, short, warn = append(long, "! Wi-Fi service down"), append(short, "!Wi-Fi down"), true
	case h.State != status.StateRunning:
		long, short, warn = append(long, "! "+stateText(h.State)), append(short, "!"+stateShort(h.State)), true
	default:
		n := len(h.Stations)
		if h.MaxStations > 0 {
			long = append(long, fmt.Sprintf("Wi-Fi %d/%d guests", n, h.MaxStations))
			short = append(short, fmt.Sprintf("Wi-Fi %d/%d", n, h.MaxStations))
		} else {
			long = append(long, fmt.Sprintf("Wi-Fi %s", plural(n, "guest", "guests")))
			short = append(short, fmt.Sprintf("Wi-Fi %d", n))
		}
		if h.MaxStations > 0 && n >= h.MaxStations {
			long, short, warn = append(long, "full!"), append(short, "full!"), true
		}
		if h.SecurityFallback != "" {
			long, short, warn = append(long, "! open: WPA2 failed"), append(short, "!open"), true
		}
	}
	var warnings []string
	switch {
	case h == nil:
		warnings = append(warnings, "!Wi-Fi down")
	case h.State != status.StateRunning:
		warnings = append(warnings, "!"+stateShort(h.State))
	default:
		if h.MaxStations > 0 && len(h.Stations) >= h.MaxStations {
			warnings = append(warnings, "!full")
		}
		if h.SecurityFallback != "" {
			warnings = append(warnings, "!open")
		}
	}
	if in.Hub == nil {
		long, short, warn = append(long, "! hub down"), append(short, "!hub"), true
		warnings = append(warnings, "!hub down")
	}
	variants = []string{strings.Join(long, " · "), strings.Join(long, " "), strings.Join(short, " ")}
	if len(warnings) > 0 {
		variants = append(variants, strings.Join(warnings, " "))
	}
	return variants, warn
}

// stateText words a hotspot state for the health line.
func stateText(state string) string {
	switch state {
	case status.StateStarting:
		return "Wi-Fi starting"
	case status.StateNoWiFi:
		return "no Wi-Fi adapter"
	}
	return "Wi-Fi error"
}

// stateShort is stateText for narrow panels.
func stateShort(state string) string {
	switch state {
	case status.StateStarting:
		return "Wi-Fi wait"
	case status.StateNoWiFi:
		return "no Wi-Fi"
	}
	return "Wi-Fi err"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// CaptionOperator heads the operator-code page of small panels.
const CaptionOperator = "Operator code"

// operatorCode is the code that unlocks the operator page, spaced for
// reading ("123 456"), or "".
func (in Input) operatorCode() string {
	if in.Hub == nil || len(in.Hub.OperatorCode) != 6 {
		return ""
	}
	return in.Hub.OperatorCode[:3] + " " + in.Hub.OperatorCode[3:]
}

// operatorLines say where the code goes, and whether someone just used up
// their tries.
func (in Input) operatorLines() []string {
	if in.operatorCode() == "" {
		return nil
	}
	lines := []string{in.shortAddress() + "/admin"}
	if in.Hub.OperatorLockout {
		lines = append(lines, "tries locked for 1 min")
	}
	return lines
}

// airUse is the share of the air budget in use (0–1+), and ok when there
// is a budget to show.
func (in Input) airUse() (use float64, ok bool) {
	if in.Hub == nil || in.Hub.Air == nil || in.Hub.Air.BudgetKbps <= 0 {
		return 0, false
	}
	return in.Hub.Air.TotalKbps / float64(in.Hub.Air.BudgetKbps), true
}

// airLines are variants of the air gauge's text, longest first, or nil.
func (in Input) airLines() []string {
	use, ok := in.airUse()
	if !ok {
		return nil
	}
	pct := int(use*100 + 0.5)
	full := ""
	if in.Hub.Air.VideoFull {
		full = ", video full"
	}
	mbps := float64(in.Hub.Air.BudgetKbps) / 1000
	return []string{
		fmt.Sprintf("air %d%% of %.1f Mb/s%s", pct, mbps, full),
		fmt.Sprintf("air %d%%%s", pct, full),
		fmt.Sprintf("air %d%%", pct),
	}
}
