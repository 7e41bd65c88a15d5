package status

import "strings"

// Security values of Hotspot.Security.
const (
	SecurityOpen = "open"
	SecurityWPA2 = "wpa2"
)

// wifiEscaper backslash-escapes the characters the WIFI: QR format
// reserves (the ZXing "Wi-Fi network config" convention phones follow).
var wifiEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, `"`, `\"`, `:`, `\:`)

// WiFiQR returns the payload of a Wi-Fi join QR code: the hotspot puts it
// into Hotspot.WiFiQR, and the display builds the same one from the other
// fields for a hotspot that did not. Security is SecurityOpen or
// SecurityWPA2; an open network carries no passphrase, and a hidden one
// says so (H:true), or phones would not probe for it.
func WiFiQR(security, ssid, passphrase string, hidden bool) string {
	var sb strings.Builder
	sb.WriteString("WIFI:")
	if security == SecurityOpen {
		sb.WriteString("T:nopass;S:" + wifiEscaper.Replace(ssid) + ";")
	} else {
		sb.WriteString("T:WPA;S:" + wifiEscaper.Replace(ssid) + ";P:" + wifiEscaper.Replace(passphrase) + ";")
	}
	if hidden {
		sb.WriteString("H:true;")
	}
	sb.WriteString(";")
	return sb.String()
}
