// Command hotspot makes the box's Wi-Fi chip an access point and serves
// DHCP, captive DNS and a loopback status endpoint. See docs/hotspot.md.
// The work is done by internal/hotspot; this file only parses flags.
package main

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/hotspot"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

func main() {
	var cfg hotspot.Config
	var address, modules, adminMACs string
	fs := flag.NewFlagSet("hotspot", flag.ContinueOnError)
	fs.StringVar(&cfg.StateDir, "state", "/perm/kibitzbox", "state directory (wifi.json, leases.json)")
	fs.StringVar(&cfg.Interface, "iface", "", "wireless interface (default: the first AP-capable one)")
	fs.StringVar(&cfg.SSID, "ssid", "", "network name (default: Kibitz-XXXX from the MAC; persisted)")
	fs.StringVar(&cfg.Passphrase, "passphrase", "", "WPA2 passphrase (default: generated; persisted)")
	fs.StringVar(&cfg.Country, "country", hotspot.DefaultCountry, "regulatory country, ISO 3166 alpha-2 (00 = world)")
	fs.IntVar(&cfg.Channel, "channel", hotspot.DefaultChannel, "Wi-Fi channel (1, 6 or 11 are safe everywhere)")
	fs.IntVar(&cfg.AirBudgetKbps, "air-budget-kbps", 0, "relayed media rate in kb/s the guests share, published for the hub; 0 = the default for the band and width (docs/air.md)")
	fs.BoolVar(&cfg.Hidden, "hidden", false, "do not broadcast the SSID")
	fs.BoolVar(&cfg.APIsolate, "ap-isolate", true, "stop guests from talking to each other directly")
	fs.StringVar(&address, "address", hotspot.DefaultAddress.String(), "the box's address and prefix on the AP")
	fs.StringVar(&cfg.StatusAddr, "status", status.HotspotAddr, "loopback address of /status and /metrics")
	fs.StringVar(&cfg.CaptiveURL, "captive-url", "http://10.42.0.1/captive-portal/api.json", "captive portal URI for DHCP option 114 (empty: none)")
	fs.StringVar(&cfg.Security, "security", hotspot.SecurityWPA2, "wpa2 (WPA2-PSK, CCMP) or open")
	fs.StringVar(&cfg.EAPOLTransport, "eapol", hotspot.EAPOLAuto, "how our WPA2 authenticator carries EAPOL: auto, nl80211 (control port) or packet (AF_PACKET)")
	fs.BoolVar(&cfg.RequireWiFi, "require-wifi", false, "exit (status 125) if there is no AP-capable interface instead of idling")
	fs.StringVar(&modules, "modules", strings.Join(hotspot.DefaultModules, ","), "kernel modules to load, comma-separated (empty: none)")
	fs.DurationVar(&cfg.WiFiWait, "wifi-wait", hotspot.DefaultWiFiWait, "how long to wait for the interface at start")
	fs.IntVar(&cfg.MaxStations, "max-stations", hotspot.DefaultMaxStations, "most stations at once (the driver's limit wins if lower)")
	fs.DurationVar(&cfg.InactivityTimeout, "inactivity", hotspot.DefaultInactivity, "drop stations idle this long (softmac radios)")
	fs.StringVar(&cfg.LANInterface, "lan-iface", hotspot.DefaultLANInterface, "Ethernet interface towards the venue's network: in Ethernet mode (operator page, guests) the guest services answer on it too")
	fs.BoolVar(&cfg.GuardAdmin, "guard-admin", true, "drop Wi-Fi guests' connections to gokrazy's admin UI (TCP 8880, 8443) with nftables")
	fs.StringVar(&adminMACs, "admin-mac", "", "comma-separated MAC addresses of operator laptops that may still reach the admin UI over Wi-Fi")
	os.Exit(daemon.Main("hotspot", fs, os.Args[1:], func(ctx context.Context, env daemon.Env) error {
		p, err := netip.ParsePrefix(address)
		if err != nil {
			return daemon.Configf("--address %q: %w", address, err)
		}
		cfg.Address = p
		for _, m := range strings.FieldsFunc(adminMACs, func(r rune) bool { return r == ',' }) {
			mac, err := net.ParseMAC(strings.TrimSpace(m))
			if err != nil {
				return daemon.Configf("--admin-mac %q: %w", m, err)
			}
			cfg.AdminMACs = append(cfg.AdminMACs, mac)
		}
		if modules != "" {
			cfg.Modules = strings.Split(modules, ",")
		}
		cfg.Logger, cfg.Version = env.Log, env.Version
		err = hotspot.Run(ctx, cfg)
		// Neither a bad setting nor a missing radio (with --require-wifi)
		// gets better by restarting.
		if errors.Is(err, hotspot.ErrConfig) || errors.Is(err, hotspot.ErrNoWiFi) {
			return &daemon.ConfigError{Err: err}
		}
		return err
	}))
}
