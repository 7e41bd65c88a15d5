// Package hubd runs the call hub daemon: the Kibitz hub (ICE-lite, DTLS,
// SCTP on one UDP port), the TURN relay, the call app's HTTPS server with
// the captive portal, and the loopback status endpoint, wired together
// from one Config. cmd/hub parses the flags into that Config.
package hubd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/sync/errgroup"

	"github.com/kibitzbox/kibitzbox/internal/admin"
	"github.com/kibitzbox/kibitzbox/internal/daemon"
	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hub"
	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/turnrelay"
	"github.com/kibitzbox/kibitzbox/internal/web"
)

// Config is everything the hub's flags set.
type Config struct {
	StateDir     string
	Advertise    string
	Port         int
	TURNPort     int
	Discoverable bool
	StatusAddr   string
	Room         string
	RoomCap      int
	HTTPSAddr    string
	HTTPAddr     string
	TLSCert      string
	TLSKey       string
	TURNClients  string
	// LANInterface is the Ethernet interface towards the venue's network
	// ("eth0" on the box). In Ethernet mode (the settings file's guests
	// source ethernet or both) its IPv4 address is advertised first, so
	// the links and the call QR carry it; "" turns that off.
	LANInterface string
	// LANWait bounds how long Run waits for LANInterface to get an IPv4
	// address in Ethernet mode (the DHCP client may still be at work).
	LANWait time.Duration
	// Admin serves the operator page (/admin) and its API.
	Admin bool
	// HotspotStatusAddr is the hotspot's loopback status and control
	// address the operator page talks to (status.HotspotAddr).
	HotspotStatusAddr string
	// BuildTime tells a set clock from an unset one (zero: unknown).
	BuildTime time.Time
	// AirBudgetKbps is the relayed media rate the guests share when the
	// hotspot does not report one (a laptop has no radio); 0: no limit.
	AirBudgetKbps int

	// Version is reported in /status and the start log line.
	Version string
	// Logger receives the daemon's logs; nil discards them.
	Logger *slog.Logger
	// Out receives the banner (links, blob, QR code); nil discards it.
	Out io.Writer
}

// DefaultConfig is the laptop configuration (`make run`); the box's
// gokrazy config sets its ports and state directory with flags.
func DefaultConfig() Config {
	return Config{
		StateDir:     "./state",
		Port:         galaxy.DiscoveryPort,
		TURNPort:     galaxy.DiscoveryTURNPort,
		Discoverable: true,
		StatusAddr:   status.HubAddr,
		Room:         "lobby",
		RoomCap:      8,
		HTTPSAddr:    ":8443",
		HTTPAddr:     ":8080",
		Admin:        true,
		LANInterface: "eth0",
		LANWait:      20 * time.Second,
		Version:      "dev",
	}
}

// Run starts everything and blocks until ctx ends or a part fails. Flag
// values that cannot work are returned as *daemon.ConfigError.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	tuneGC()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	advertise, err := advertiseAddrs(cfg.Advertise, log)
	if err != nil {
		return &daemon.ConfigError{Err: err}
	}
	guests := *settings.Load(settings.Path(cfg.StateDir), log).Over(hubDefaults(cfg)).Guests
	if ethernetMode(guests) {
		advertise = withLANAddr(ctx, advertise, cfg.LANInterface, cfg.LANWait, log)
	}
	var clientNets []netip.Prefix
	if cfg.TURNPort >= 0 {
		if clientNets, err = turnClientNets(cfg.TURNClients, advertise); err != nil {
			return &daemon.ConfigError{Err: err}
		}
	}
	device, err := galaxy.LoadOrCreateIdentity(cfg.StateDir, log)
	if err != nil {
		return err
	}
	identities := []*galaxy.Identity{device}
	if cfg.Discoverable {
		disc, err := galaxy.Discovery()
		if err != nil {
			return err
		}
		identities = append(identities, disc)
		if cfg.Port != galaxy.DiscoveryPort || cfg.TURNPort != galaxy.DiscoveryTURNPort {
			log.Warn("discovery needs --port 4711 and --turn-port 3478; kibitz.chat will not find this hub", "port", cfg.Port, "turn_port", cfg.TURNPort)
		}
	}
	h, err := hub.New(hub.Config{
		ListenAddr: net.JoinHostPort("0.0.0.0", fmt.Sprint(cfg.Port)),
		Identities: identities,
		StateDir:   cfg.StateDir,
		Limits:     hub.DefaultLimits(),
		Logger:     log.With("part", "hub"),
	})
	if err != nil {
		return err
	}
	hubPort := int(h.LocalAddr().Port())

	// The first part to fail ends the others; a part that ends because
	// ctx ended is no failure.
	g, gctx := errgroup.WithContext(ctx)
	start := func(name string, f func(context.Context) error) {
		g.Go(func() error {
			if err := f(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	// fail stops the parts already started and returns err.
	fail := func(err error) error {
		g.Go(func() error { return err })
		g.Wait()
		return err
	}
	start("hub", h.Run)

	turnPort := 0
	var relay *turnrelay.Server
	if cfg.TURNPort >= 0 {
		users := map[string]string{device.TURNUser: device.TURNPass}
		if cfg.Discoverable {
			users[galaxy.DiscoveryTURNUser] = galaxy.DiscoveryTURNPass
		}
		relay, err = turnrelay.New(turnrelay.Config{
			Port:          cfg.TURNPort,
			RelayIP:       advertise[0],
			ClientNets:    clientNets,
			Users:         users,
			Realm:         galaxy.TURNRealm,
			AirBudgetKbps: cfg.AirBudgetKbps,
			Logger:        log.With("part", "turn"),
		})
		if err != nil {
			// Calls still work between browsers that reach each other
			// directly; the blob falls back to g1.
			log.Error("TURN relay not started; links carry no TURN", "err", err)
			relay = nil
		} else {
			turnPort = int(relay.Addr().Port())
			start("turn", relay.Run)
		}
	}

	eps := make([]galaxy.Endpoint, len(advertise))
	for i, a := range advertise {
		eps[i] = galaxy.Endpoint{Addr: a.String(), Port: hubPort}
	}
	blob := device.Blob(turnPort, eps).String()
	kibitzLink := func(room string) string { return galaxy.KibitzLink(blob, room) }

	budget := &airBudget{flag: cfg.AirBudgetKbps}
	budget.current.Store(int64(cfg.AirBudgetKbps))
	if relay != nil {
		start("air", func(ctx context.Context) error {
			return budget.follow(ctx, hotspotClient(cfg), relay, h, log)
		})
	}
	// The operator's settings file wins over the flags.
	calls := *settings.Load(settings.Path(cfg.StateDir), log).Over(hubDefaults(cfg)).Calls
	var webSrv *web.Server
	var adminSrv *admin.Server
	if cfg.HTTPSAddr != "" {
		webCalls := &webCalls{}
		var adminHandler http.Handler
		if cfg.Admin {
			adminSrv = newAdmin(cfg, h, webCalls, log.With("part", "admin"), time.Now())
			adminHandler = adminSrv
		}
		webSrv, err = web.New(web.Config{
			StateDir:     cfg.StateDir,
			HTTPSAddr:    cfg.HTTPSAddr,
			HTTPAddr:     cfg.HTTPAddr,
			TLSCertFile:  cfg.TLSCert,
			TLSKeyFile:   cfg.TLSKey,
			AdvertiseIPs: advertise,
			DefaultRoom:  calls.DefaultRoom,
			RoomCap:      calls.RoomCap,
			Blob:         func() string { return blob },
			KibitzLink:   kibitzLink,
			AirBudget:    budget.kbps,
			Admin:        adminHandler,
			Laptop:       !onGokrazy(),
			Logger:       log.With("part", "web"),
		})
		if err != nil {
			return fail(err)
		}
		webCalls.w = webSrv
		start("web", webSrv.Run)
	}
	appURL := ""
	if webSrv != nil {
		appURL = webSrv.AppURL(calls.DefaultRoom)
	}

	st := &statusSource{cfg: cfg, hub: h, relay: relay, web: webSrv, admin: adminSrv, blob: blob,
		room: calls.DefaultRoom, kibitzLink: kibitzLink, turnPort: turnPort}
	if cfg.StatusAddr != "" {
		handler := status.Handler(func() any { return st.doc() }, st.writeMetrics)
		start("status", func(ctx context.Context) error { return status.Serve(ctx, cfg.StatusAddr, handler) })
	}

	printBanner(out, blob, appURL, kibitzLink(calls.DefaultRoom), log)
	if strings.TrimSpace(cfg.Advertise) == "" {
		// The laptop case: say which address guests get and how to change it.
		fmt.Fprintf(out, "GUESTS join over %v: the same Wi-Fi or LAN as this computer (no captive portal here: they open APP or scan the QR). Another address: --advertise <ip>\n", advertise)
		log.Info("advertising this computer's address; guests must be on its network; --advertise <ip> chooses another", "advertise", advertise)
	}
	log.Info("hub running", "version", cfg.Version, "udp_port", hubPort, "turn_port", turnPort, "advertise", advertise, "discoverable", cfg.Discoverable, "state", cfg.StateDir)
	return g.Wait()
}

func printBanner(out io.Writer, blob, appURL, kibitzURL string, log *slog.Logger) {
	qrText := appURL
	if qrText == "" {
		qrText = kibitzURL
	}
	fmt.Fprintln(out, "Kibitz Box hub")
	if appURL != "" {
		fmt.Fprintln(out, "APP   ", appURL)
	}
	fmt.Fprintln(out, "LINK  ", kibitzURL)
	fmt.Fprintln(out, "BLOB  ", blob)
	q, err := qrcode.New(qrText, qrcode.Low)
	if err != nil {
		log.Warn("QR code", "err", err)
		return
	}
	fmt.Fprint(out, q.ToSmallString(false))
}

// tuneGC trades memory for CPU: the hub allocates per packet and a Pi has
// far more spare memory than CPU (GOGC=200 cut hub CPU per routed frame by
// about a tenth in make bench-hub). The soft limit sits well under the
// hostile-guest suite's 200 MiB RSS bound: what guests can make the hub
// hold is bounded (64 MiB send budget, 32 MiB inbound), so near the limit
// the GC runs more often instead of the heap tripling that live set.
// GOGC and GOMEMLIMIT in the environment win.
func tuneGC() {
	const memoryLimit = 144 << 20
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// advertiseAddrs parses --advertise or, when empty, finds this machine's
// private IPv4 addresses (192.168/16 first, then 10/8, then the rest, like
// the original hub). Without one it takes another address of this machine
// and only then loopback: a browser never uses loopback for WebRTC, and
// the hub's replies to it would leave from another address and be ignored.
func advertiseAddrs(flagValue string, log *slog.Logger) ([]netip.Addr, error) {
	var out []netip.Addr
	if strings.TrimSpace(flagValue) != "" {
		for _, f := range strings.Split(flagValue, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("--advertise: %q is not an IPv4 address", f)
			}
			out = append(out, a)
		}
		return out, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		log.Warn("list interfaces", "err", err)
	}
	var public []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || virtualInterface(ifc.Name) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, ia := range addrs {
			p, err := netip.ParsePrefix(ia.String())
			if err != nil || !p.Addr().Is4() {
				continue
			}
			switch a := p.Addr(); {
			case a.IsPrivate():
				out = append(out, a)
			case a.IsGlobalUnicast():
				public = append(public, a)
			}
		}
	}
	rank := func(a netip.Addr) int {
		b := a.As4()
		switch {
		case b[0] == 192 && b[1] == 168:
			return 0
		case b[0] == 10:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	if len(out) == 0 && len(public) > 0 {
		log.Warn("no private LAN address found; advertising a non-private one (--advertise <ip> chooses another)", "addr", public[0])
		out = public[:1]
	}
	if len(out) == 0 {
		log.Warn("no network address found; advertising 127.0.0.1: only Go clients on this computer can join, not browsers; join a Wi-Fi or pass --advertise <ip>")
		out = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	return out, nil
}

// ethernetMode reports whether guests come over the venue's LAN.
func ethernetMode(g settings.Guests) bool {
	return g.Source == settings.SourceEthernet || g.Source == settings.SourceBoth
}

// withLANAddr puts ifname's IPv4 address first in advertise (so the app
// URL, the call QR and the TURN relay use it; Wi-Fi guests reach it
// through the box as well), waiting up to wait for one to appear. Without
// one the hub runs with advertise as it was and says so.
func withLANAddr(ctx context.Context, advertise []netip.Addr, ifname string, wait time.Duration, log *slog.Logger) []netip.Addr {
	if ifname == "" {
		return advertise
	}
	deadline := time.Now().Add(wait)
	for {
		if a, ok := ifaceIPv4(ifname); ok {
			out := []netip.Addr{a}
			for _, b := range advertise {
				if b != a {
					out = append(out, b)
				}
			}
			log.Info("Ethernet mode: advertising the LAN address", "iface", ifname, "addr", a)
			return out
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log.Warn("Ethernet mode, but the LAN interface has no IPv4 address; the links carry only the Wi-Fi address", "iface", ifname)
			return advertise
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ifaceIPv4 is the first IPv4 address of the named interface.
func ifaceIPv4(name string) (netip.Addr, bool) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, false
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// virtualInterface reports interfaces of containers, VMs and VPNs, whose
// addresses guests cannot reach and which would only lengthen the QR code.
func virtualInterface(name string) bool {
	for _, p := range []string{"docker", "br-", "veth", "virbr", "vboxnet", "vmnet", "tun", "tap", "wg", "zt", "tailscale", "lxc", "cni", "flannel"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// turnClientNets parses --turn-clients or builds the default: loopback plus
// the subnet of each advertised address (from the interface that has it,
// else its /24).
func turnClientNets(flagValue string, advertise []netip.Addr) ([]netip.Prefix, error) {
	var out []netip.Prefix
	if strings.TrimSpace(flagValue) != "" {
		for _, f := range strings.Split(flagValue, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("--turn-clients: %w", err)
			}
			out = append(out, p.Masked())
		}
		return out, nil
	}
	out = append(out, netip.MustParsePrefix("127.0.0.0/8"))
	ifAddrs, _ := net.InterfaceAddrs()
	for _, a := range advertise {
		p := netip.PrefixFrom(a, 24).Masked()
		for _, ia := range ifAddrs {
			if ip, err := netip.ParsePrefix(ia.String()); err == nil && ip.Addr() == a {
				p = ip.Masked()
			}
		}
		if !slices.Contains(out, p) && !out[0].Contains(a) {
			out = append(out, p)
		}
	}
	return out, nil
}
