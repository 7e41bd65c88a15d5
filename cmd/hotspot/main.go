// Command hotspot makes the box's Wi-Fi chip an access point and serves
// DHCP, captive DNS and a loopback status endpoint. See docs/hotspot.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/hotspot"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// exitDontRestart tells gokrazy's supervisor not to restart the process.
const exitDontRestart = 125

func main() {
	var cfg hotspot.Config
	var address, modules, adminMACs string
	var debug bool
	flag.StringVar(&cfg.StateDir, "state", "/perm/kibitzbox", "state directory (wifi.json, leases.json)")
	flag.StringVar(&cfg.Interface, "iface", "", "wireless interface (default: the first AP-capable one)")
	flag.StringVar(&cfg.SSID, "ssid", "", "network name (default: Kibitz-XXXX from the MAC; persisted)")
	flag.StringVar(&cfg.Passphrase, "passphrase", "", "WPA2 passphrase (default: generated; persisted)")
	flag.StringVar(&cfg.Country, "country", hotspot.DefaultCountry, "regulatory country, ISO 3166 alpha-2 (00 = world)")
	flag.IntVar(&cfg.Channel, "channel", hotspot.DefaultChannel, "Wi-Fi channel (1, 6 or 11 are safe everywhere)")
	flag.BoolVar(&cfg.Hidden, "hidden", false, "do not broadcast the SSID")
	flag.BoolVar(&cfg.APIsolate, "ap-isolate", true, "stop guests from talking to each other directly")
	flag.StringVar(&address, "address", hotspot.DefaultAddress.String(), "the box's address and prefix on the AP")
	flag.StringVar(&cfg.StatusAddr, "status", status.HotspotAddr, "loopback address of /status and /metrics")
	flag.StringVar(&cfg.CaptiveURL, "captive-url", "http://10.42.0.1/captive-portal/api.json", "captive portal URI for DHCP option 114 (empty: none)")
	flag.StringVar(&cfg.Security, "security", hotspot.SecurityWPA2, "wpa2 (WPA2-PSK, CCMP) or open")
	flag.StringVar(&cfg.EAPOLTransport, "eapol", hotspot.EAPOLAuto, "how our WPA2 authenticator carries EAPOL: auto, nl80211 (control port) or packet (AF_PACKET)")
	flag.BoolVar(&cfg.RequireWiFi, "require-wifi", false, "exit (status 125) if there is no AP-capable interface instead of idling")
	flag.StringVar(&modules, "modules", strings.Join(hotspot.DefaultModules, ","), "kernel modules to load, comma-separated (empty: none)")
	flag.DurationVar(&cfg.WiFiWait, "wifi-wait", hotspot.DefaultWiFiWait, "how long to wait for the interface at start")
	flag.IntVar(&cfg.MaxStations, "max-stations", hotspot.DefaultMaxStations, "most stations at once (the driver's limit wins if lower)")
	flag.DurationVar(&cfg.InactivityTimeout, "inactivity", hotspot.DefaultInactivity, "drop stations idle this long (softmac radios)")
	flag.BoolVar(&cfg.GuardAdmin, "guard-admin", true, "drop Wi-Fi guests' connections to gokrazy's admin UI (TCP 8880, 8443) with nftables")
	flag.StringVar(&adminMACs, "admin-mac", "", "comma-separated MAC addresses of operator laptops that may still reach the admin UI over Wi-Fi")
	flag.BoolVar(&debug, "debug", false, "log debug messages")
	flag.Parse()

	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	p, err := netip.ParsePrefix(address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotspot: --address %q: %v\n", address, err)
		os.Exit(2)
	}
	cfg.Address = p
	for _, m := range strings.FieldsFunc(adminMACs, func(r rune) bool { return r == ',' }) {
		mac, err := net.ParseMAC(strings.TrimSpace(m))
		if err != nil {
			fmt.Fprintf(os.Stderr, "hotspot: --admin-mac %q: %v\n", m, err)
			os.Exit(exitDontRestart)
		}
		cfg.AdminMACs = append(cfg.AdminMACs, mac)
	}
	if modules != "" {
		cfg.Modules = strings.Split(modules, ",")
	}
	cfg.Version = version()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		cfg.Logger.Error("hotspot failed", "err", err)
		// Neither a missing radio (with --require-wifi) nor a bad flag
		// gets better by restarting; other failures may.
		if errors.Is(err, hotspot.ErrNoWiFi) || errors.Is(err, hotspot.ErrConfig) {
			os.Exit(exitDontRestart)
		}
		time.Sleep(time.Second) // keep a restart loop slow
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg hotspot.Config) error { return hotspot.Run(ctx, cfg) }

func version() string {
	if bi, ok := debugBuildInfo(); ok {
		return bi
	}
	return "dev"
}
