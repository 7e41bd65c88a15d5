// Package hotspot is the orchestration around the access point: it loads
// the driver, sets the regulatory country, finds the AP-capable interface,
// keeps the network's identity (SSID, passphrase), switches the interface
// to AP mode with the box's address (rtnetlink), starts the AP
// (internal/ap), runs the DHCP and captive DNS servers and the status
// endpoint, and retries the whole bring-up when it fails.
package hotspot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/adminguard"
	"github.com/kibitzbox/kibitzbox/internal/ap"
	"github.com/kibitzbox/kibitzbox/internal/dhcpd"
	"github.com/kibitzbox/kibitzbox/internal/dnsd"
	"github.com/kibitzbox/kibitzbox/internal/guestguard"
	"github.com/kibitzbox/kibitzbox/internal/metrics"
	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"github.com/kibitzbox/kibitzbox/internal/settings"
	"github.com/kibitzbox/kibitzbox/internal/status"
)

// Config configures Run. Zero values get the documented defaults.
type Config struct {
	StateDir   string
	Interface  string // "" picks the first AP-capable wireless interface
	SSID       string // overrides and persists the SSID
	Passphrase string // overrides and persists the passphrase
	Country    string // ISO 3166 alpha2, "00" = world
	Channel    int
	Hidden     bool
	APIsolate  bool
	Address    netip.Prefix // the box's address on the AP, e.g. 10.42.0.1/24
	StatusAddr string
	CaptiveURL string
	// Security is "wpa2" (the default) or "open".
	Security string
	// EAPOLTransport is "auto", "nl80211" or "packet" (see ChooseWPA2Mode).
	EAPOLTransport string
	// SysRoot is where /proc and /sys are ("/" unless testing); it is read
	// to recognise chips with a broken encrypted AP mode.
	SysRoot string
	// RequireWiFi makes Run return ErrNoWiFi when there is no AP-capable
	// interface; otherwise it stays idle and keeps looking.
	RequireWiFi bool
	// Modules are kernel modules to load from ModuleRoot/<release>.
	Modules    []string
	ModuleRoot string
	// WiFiWait is how long to wait for an interface after loading modules.
	WiFiWait          time.Duration
	MaxStations       int
	InactivityTimeout time.Duration
	// NoGuestGuard leaves out the packet filter (internal/guestguard:
	// forwarding off and a forward drop from the start, then source guard
	// and guest services only on the AP). Only for labs and unit tests: on
	// the box the AP does not start without it.
	NoGuestGuard bool
	// GuardAdmin drops TCP to gokrazy's admin ports arriving on the AP
	// interface (internal/adminguard), except from AdminMACs.
	GuardAdmin bool
	AdminMACs  []net.HardwareAddr
	// AirBudgetKbps overrides the air budget the status publishes for the
	// band and channel width (internal/air); 0 keeps the default.
	AirBudgetKbps int
	// LANInterface is the Ethernet interface towards the venue's network
	// ("eth0"). In Ethernet mode (Guests.Source ethernet or both) the
	// guest services answer on it too; "" means DefaultLANInterface.
	LANInterface string
	// Guests is where guests come from; the settings file's guests
	// section sets it (Source "" is Wi-Fi only).
	Guests  settings.Guests
	Version string
	Logger  *slog.Logger
}

// EAPOL transports for the WPA2 authenticator (see ap.ChooseWPA2Mode).
const (
	EAPOLAuto    = ap.EAPOLAuto
	EAPOLNL80211 = ap.EAPOLNL80211
	EAPOLPacket  = ap.EAPOLPacket
)

// ErrConfig wraps configuration errors: restarting cannot fix them.
var ErrConfig = errors.New("invalid configuration")

// ErrNoWiFi is returned by Run when RequireWiFi is set and there is no
// AP-capable wireless interface.
var ErrNoWiFi = errors.New("no AP-capable wireless interface")

// Defaults.
const (
	DefaultCountry     = "00"
	DefaultChannel     = 6
	DefaultMaxStations = 32
	DefaultWiFiWait    = 30 * time.Second
	DefaultInactivity  = 5 * time.Minute
	// DefaultLANInterface is the box's Ethernet (the Pi's on-board port).
	DefaultLANInterface = "eth0"
	rescanInterval      = 30 * time.Second
	pollInterval        = 500 * time.Millisecond
	regSettleTime       = 500 * time.Millisecond
)

// DefaultAddress is the box's address on the AP.
var DefaultAddress = netip.MustParsePrefix("10.42.0.1/24")

func (c *Config) setDefaults() error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Country == "" {
		c.Country = DefaultCountry
	}
	if len(c.Country) != 2 {
		return fmt.Errorf("country %q: want a two-letter ISO 3166 code or 00", c.Country)
	}
	if c.Channel == 0 {
		c.Channel = DefaultChannel
	}
	if nl80211.ChannelToFreq(c.Channel) == 0 {
		return fmt.Errorf("channel %d: not a Wi-Fi channel", c.Channel)
	}
	if !c.Address.IsValid() {
		c.Address = DefaultAddress
	}
	if !c.Address.Addr().Is4() || c.Address.Bits() > 24 || c.Address.Bits() < 8 {
		return fmt.Errorf("address %s: want an IPv4 address with a /8 to /24 prefix", c.Address)
	}
	if c.StatusAddr == "" {
		c.StatusAddr = status.HotspotAddr
	}
	switch c.Security {
	case "":
		c.Security = SecurityWPA2
	case SecurityOpen, SecurityWPA2:
	default:
		return fmt.Errorf("security %q: want wpa2 or open", c.Security)
	}
	switch c.EAPOLTransport {
	case "":
		c.EAPOLTransport = EAPOLAuto
	case EAPOLAuto, EAPOLNL80211, EAPOLPacket:
	default:
		return fmt.Errorf("EAPOL transport %q: want auto, nl80211 or packet", c.EAPOLTransport)
	}
	if c.SysRoot == "" {
		c.SysRoot = "/"
	}
	if c.SSID != "" {
		if err := ValidateSSID(c.SSID); err != nil {
			return err
		}
	}
	if c.Passphrase != "" {
		if err := ValidatePassphrase(c.Passphrase); err != nil {
			return err
		}
	}
	if c.WiFiWait == 0 {
		c.WiFiWait = DefaultWiFiWait
	}
	if c.MaxStations == 0 {
		c.MaxStations = DefaultMaxStations
	}
	if c.InactivityTimeout == 0 {
		c.InactivityTimeout = DefaultInactivity
	}
	if c.ModuleRoot == "" {
		c.ModuleRoot = "/lib/modules"
	}
	if c.LANInterface == "" {
		c.LANInterface = DefaultLANInterface
	}
	if len(c.LANInterface) >= 16 {
		return fmt.Errorf("LAN interface %q: name too long", c.LANInterface)
	}
	switch c.Guests.Source {
	case "", settings.SourceWiFi, settings.SourceEthernet, settings.SourceBoth:
	default:
		return fmt.Errorf("guest source %q: want wifi, ethernet or both", c.Guests.Source)
	}
	return nil
}

// pool returns .10–.250 of the address's /24 (or the first /24 of a
// larger prefix), never including the box's own address.
func pool(p netip.Prefix) (start, end netip.Addr) {
	a := p.Masked().Addr().As4()
	a[3] = 10
	start = netip.AddrFrom4(a)
	a[3] = 250
	end = netip.AddrFrom4(a)
	return start, end
}

// service holds what the status endpoint shows.
type service struct {
	// flags is the configuration from the command line; cfg is what is in
	// effect: the flags with the settings file's Wi-Fi section over them.
	flags   Config
	log     *slog.Logger
	started time.Time
	// restart asks the running bring-up to start over with a new cfg.
	restart chan struct{}

	mu           sync.Mutex
	cfg          Config
	doc          status.Hotspot
	authFailures uint64
	ap           *ap.AP
	auth         ap.Authenticator
	dhcp         *dhcpd.Server
	dns          *dnsd.Server
	guard        *guestguard.Guard
	// ownWiFiQR is the QR of the box's own network; the status shows the
	// venue's instead when guests come over Ethernet only.
	ownWiFiQR string
}

// Run runs the hotspot until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &service{flags: cfg, log: cfg.Logger, started: time.Now(), restart: make(chan struct{}, 1)}
	s.cfg = s.effective()
	s.doc = status.Hotspot{
		Version: cfg.Version, State: status.StateStarting, Security: cfg.Security,
		Channel: cfg.Channel, Country: cfg.Country, Address: cfg.Address.String(),
		Stations: []status.Station{}, Leases: []status.Lease{},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	statusErr := make(chan error, 1)
	go func() {
		err := status.Serve(ctx, cfg.StatusAddr, s.handler())
		if err != nil {
			cancel() // without its status endpoint the hotspot is invisible; stop
		}
		statusErr <- err
	}()

	err := s.runWithRetry(ctx)
	cancel()
	if serr := <-statusErr; err == nil {
		err = serr
	}
	return err
}

// Bring-up retries: a failure (firmware hiccup, interface gone, a channel
// the country forbids) shows as state "error" in the status and is retried
// with backoff, instead of exiting and having gokrazy restart us in a loop.
const (
	retryFirst = 5 * time.Second
	retryMax   = 2 * time.Minute
)

func (s *service) runWithRetry(ctx context.Context) error {
	backoff := retryFirst
	for {
		err := s.run(ctx)
		if ctx.Err() != nil {
			return nil // told to stop; not a failure
		}
		if errors.Is(err, ErrNoWiFi) {
			return err
		}
		if errors.Is(err, errRestart) {
			s.log.Info("restarting the access point with new settings")
			backoff = retryFirst
			continue
		}
		if err == nil {
			err = errors.New("hotspot stopped")
		}
		s.setState(status.StateError, err.Error())
		s.log.Error("hotspot failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, retryMax)
	}
}

func (s *service) setState(state, errText string) {
	s.mu.Lock()
	s.doc.State, s.doc.Error = state, errText
	s.mu.Unlock()
}

// run brings the hotspot up once and serves until ctx ends or something
// fails. Everything it started is stopped before it returns.
func (s *service) run(ctx context.Context) error {
	// This bring-up reads the settings in effect now; a restart asked for
	// before it is already served.
	select {
	case <-s.restart:
	default:
	}
	cfg := s.config()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		s.mu.Lock()
		s.ap, s.auth, s.dhcp, s.dns, s.guard = nil, nil, nil, nil, nil
		s.mu.Unlock()
	}()
	if !cfg.NoGuestGuard {
		// The box is never a router: forwarding off and a forward drop
		// come first, with or without Wi-Fi, and stay when the AP stops.
		if err := guestguard.EnforceNoRouter("/proc", 0); err != nil {
			return fmt.Errorf("the box could forward between its interfaces, so the AP stays off: %w", err)
		}
		s.log.Info("forwarding off and forward drop installed", "table", guestguard.NoRouterTable)
	}
	if err := LoadModules(cfg.ModuleRoot, cfg.Modules, s.log); err != nil {
		s.log.Warn("loading Wi-Fi driver failed", "err", err)
	}
	ifc, wiphy, err := s.waitForInterface(ctx)
	if err != nil {
		return err
	}
	id, err := LoadIdentity(cfg.StateDir, ifc.MAC, cfg.SSID, cfg.Passphrase, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.doc.SSID, s.doc.Interface = id.SSID, ifc.Name
	s.mu.Unlock()

	nl, err := nl80211.Dial()
	if err != nil {
		return err
	}
	defer nl.Close()
	if err := nl.SetRegulatory(cfg.Country); err != nil {
		s.log.Warn("regulatory country not set", "country", cfg.Country, "err", err)
	} else if w, err := s.rereadWiphy(ctx, nl, wiphy.Index); err == nil {
		wiphy = w
	}
	maxSta := cfg.MaxStations
	if wiphy.MaxAPAssocSta > 0 && wiphy.MaxAPAssocSta < maxSta {
		maxSta = wiphy.MaxAPAssocSta
	}
	s.mu.Lock()
	s.doc.MaxStations = maxSta
	s.doc.Channel, s.doc.Country = cfg.Channel, cfg.Country
	s.doc.Channels = usableChannels(wiphy)
	s.doc.AirBudgetKbps = airBudget(cfg)
	s.mu.Unlock()
	s.log.Info("wireless interface found", "iface", ifc.Name, "mac", ifc.MAC.String(), "wiphy", wiphy.Name,
		"ap_sme", wiphy.APSME, "ap_psk_offload", wiphy.HasExtFeature(nl80211.ExtFeature4WayHandshakeAPPSK),
		"max_ap_stations", wiphy.MaxAPAssocSta, "usable_channels", usableChannels(wiphy))

	auth, err := s.authenticator(cfg, ifc, wiphy, id)
	if err != nil {
		return err
	}
	if err := s.configureInterface(nl, ifc); err != nil {
		return err
	}
	if !cfg.NoGuestGuard {
		// Fail closed: without the guard a guest could spoof others and
		// the venue LAN would reach the guest services.
		guard, err := guestguard.Install(guestguard.Config{Interface: ifc.Name, GuestIfaces: guestIfaces(cfg)})
		if err != nil {
			return fmt.Errorf("guest packet filter not installed, so the AP stays off: %w", err)
		}
		defer func() {
			if err := guestguard.Remove(0); err != nil {
				s.log.Warn("removing the guest packet filter", "err", err)
			}
		}()
		if err := guestguard.DisableForwarding("/proc"); err != nil {
			return fmt.Errorf("forwarding not turned off, so the AP stays off: %w", err)
		}
		s.mu.Lock()
		s.guard = guard
		now := s.cfg
		s.mu.Unlock()
		// A reload between reading cfg and here found no guard to update.
		if want := guestIfaces(now); !slices.Equal(want, guard.GuestIfaces()) {
			if err := guard.SetGuestIfaces(want); err != nil {
				return fmt.Errorf("guest packet filter not updated for the guest source, so the AP stays off: %w", err)
			}
		}
		s.log.Info("guest packet filter installed", "iface", ifc.Name, "guest_ports", guestguard.DefaultPorts,
			"guest_source", cfg.Guests.Source, "also_on", guestIfaces(cfg))
	}
	if cfg.GuardAdmin {
		s.guardAdmin(ifc.Name)
		defer func() {
			if err := adminguard.Remove(0); err != nil {
				s.log.Warn("removing the admin UI guard", "err", err)
			}
		}()
	}
	radio, err := ap.Start(ctx, ap.Config{
		Interface: ifc, Wiphy: wiphy, SSID: id.SSID, Hidden: cfg.Hidden, Channel: cfg.Channel,
		Country: cfg.Country, APIsolate: cfg.APIsolate, MaxStations: maxSta,
		InactivityTimeout: cfg.InactivityTimeout, Auth: auth, Logger: s.log,
	})
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-radio.Done()
	}()
	s.mu.Lock()
	s.ap, s.auth = radio, auth
	s.mu.Unlock()

	svcErr := make(chan error, 2)
	if err := s.startNetworkServices(ctx, &wg, ifc.Name, svcErr); err != nil {
		return err
	}
	s.setState(status.StateRunning, "")
	select {
	case <-ctx.Done():
		return nil
	case <-s.restart:
		return errRestart
	case <-radio.Done():
		return fmt.Errorf("access point on %s stopped unexpectedly", ifc.Name)
	case err := <-svcErr:
		return err
	}
}

// guardAdmin keeps guests off gokrazy's admin UI. A failure is logged and
// shown in the status but does not stop the AP: guests still need Wi-Fi,
// and the UI itself asks for a password.
func (s *service) guardAdmin(ifname string) {
	err := adminguard.Install(adminguard.Config{Interface: ifname, AllowMACs: s.flags.AdminMACs})
	s.mu.Lock()
	s.doc.AdminGuard = err == nil
	s.mu.Unlock()
	if err != nil {
		s.log.Error("could not keep guests off the admin UI", "iface", ifname, "err", err)
		return
	}
	s.log.Info("admin UI closed to the Wi-Fi", "iface", ifname, "ports", adminguard.DefaultPorts, "allowed_macs", len(s.flags.AdminMACs))
}

// authenticator returns the network's security: WPA2 unless asked for
// open or the chip cannot do it. The status shows what is in effect.
func (s *service) authenticator(cfg Config, ifc nl80211.Interface, wiphy *nl80211.Wiphy, id Identity) (ap.Authenticator, error) {
	security, fallback := cfg.Security, ""
	if security == SecurityWPA2 {
		if why := ap.BrokenEncryptedAP(cfg.SysRoot, ifc.Name); why != "" {
			s.log.Warn("WPA2 is not possible on this chip; falling back to an OPEN network", "reason", why)
			security, fallback = SecurityOpen, why
		}
	}
	var auth ap.Authenticator = ap.OpenAuthenticator{}
	if security == SecurityWPA2 {
		mode, err := ap.ChooseWPA2Mode(wiphy, cfg.EAPOLTransport)
		if err != nil {
			return nil, err
		}
		w, err := ap.NewWPA2Authenticator(mode, id.SSID, id.Passphrase, s.log, s.authFailed)
		if err != nil {
			return nil, err
		}
		s.log.Info("WPA2-PSK (CCMP)", "handshake", mode.String())
		auth = w
	}
	s.mu.Lock()
	s.doc.Security, s.doc.SecurityFallback, s.doc.Passphrase = security, fallback, ""
	if security == SecurityWPA2 {
		s.doc.Passphrase = id.Passphrase
	}
	s.doc.WiFiQR = status.WiFiQR(security, id.SSID, id.Passphrase, cfg.Hidden)
	s.doc.Hidden, s.doc.APIsolation = cfg.Hidden, cfg.APIsolate
	s.ownWiFiQR = s.doc.WiFiQR
	s.setGuestsLocked(s.cfg) // the settings now: a reload may have come since cfg
	s.mu.Unlock()
	return auth, nil
}

// maxAuthFailures bounds the failures the status keeps (newest last).
const maxAuthFailures = 20

// authFailed records a station that failed the WPA2 handshake. It runs on
// the authenticator's goroutine and must not block.
func (s *service) authFailed(mac net.HardwareAddr, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc.AuthFailures = append(s.doc.AuthFailures, status.AuthFailure{MAC: mac.String(), Reason: reason, At: time.Now().UTC()})
	if n := len(s.doc.AuthFailures); n > maxAuthFailures {
		s.doc.AuthFailures = slices.Clone(s.doc.AuthFailures[n-maxAuthFailures:])
	}
	s.authFailures++
}

func (s *service) startNetworkServices(ctx context.Context, wg *sync.WaitGroup, ifname string, errs chan<- error) error {
	cfg := s.config()
	start, end := pool(cfg.Address)
	dhcp, err := dhcpd.New(dhcpd.Config{
		Interface: ifname, ServerIP: cfg.Address.Addr(), Prefix: cfg.Address.Masked(),
		PoolStart: start, PoolEnd: end, CaptivePortalURL: cfg.CaptiveURL,
		LeaseFile: filepath.Join(cfg.StateDir, "leases.json"), Associated: s.associated,
		OnLeasesChange: s.leasesChanged, Logger: s.log.With("svc", "dhcp"),
	})
	if err != nil {
		return fmt.Errorf("DHCP server: %w", err)
	}
	dns, err := dnsd.New(dnsd.Config{
		Addr: netip.AddrPortFrom(cfg.Address.Addr(), 53).String(), Answer: cfg.Address.Addr(),
		Logger: s.log.With("svc", "dns"),
	})
	if err != nil {
		return fmt.Errorf("DNS server: %w", err)
	}
	s.mu.Lock()
	s.dhcp, s.dns = dhcp, dns
	s.mu.Unlock()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := dhcp.Run(ctx); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("DHCP server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := dns.Run(ctx); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("DNS server: %w", err)
		}
	}()
	return nil
}

// leasesChanged gives the source guard the current leases.
func (s *service) leasesChanged(leases []status.Lease) {
	s.mu.Lock()
	guard := s.guard
	s.mu.Unlock()
	if guard == nil {
		return
	}
	var gl []guestguard.Lease
	for _, l := range leases {
		mac, err1 := net.ParseMAC(l.MAC)
		ip, err2 := netip.ParseAddr(l.IP)
		if err1 == nil && err2 == nil {
			gl = append(gl, guestguard.Lease{MAC: mac, IP: ip})
		}
	}
	if err := guard.SetLeases(gl); err != nil {
		s.log.Error("source guard not updated; new guests may be dropped", "err", err)
	}
}

// associated tells the DHCP server whether a MAC is one of our stations.
func (s *service) associated(mac net.HardwareAddr) bool {
	s.mu.Lock()
	radio := s.ap
	s.mu.Unlock()
	return radio != nil && radio.Associated(mac)
}

// waitForInterface finds the AP interface. Without one it either fails
// (RequireWiFi) or goes idle and keeps looking, so that gokrazy never
// restarts us in a loop on a box without Wi-Fi.
func (s *service) waitForInterface(ctx context.Context) (nl80211.Interface, *nl80211.Wiphy, error) {
	deadline := time.Now().Add(s.flags.WiFiWait)
	idle := false
	for {
		ifc, w, err := findAPInterface(s.flags.Interface)
		if err == nil {
			return ifc, w, nil
		}
		if !idle && time.Now().After(deadline) {
			if s.flags.RequireWiFi {
				s.log.Error("no AP-capable wireless interface; exiting (--require-wifi)", "detail", err)
				s.setState(status.StateNoWiFi, err.Error())
				return nl80211.Interface{}, nil, fmt.Errorf("%w: %v", ErrNoWiFi, err)
			}
			s.log.Warn("no AP-capable wireless interface; hotspot idle", "detail", err)
			s.setState(status.StateNoWiFi, err.Error())
			idle = true
		}
		wait := pollInterval
		if idle {
			wait = rescanInterval
		}
		select {
		case <-ctx.Done():
			return nl80211.Interface{}, nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// findAPInterface returns the named interface, or the first one whose
// wiphy supports AP mode.
func findAPInterface(name string) (nl80211.Interface, *nl80211.Wiphy, error) {
	nl, err := nl80211.Dial()
	if err != nil {
		return nl80211.Interface{}, nil, err
	}
	defer nl.Close()
	ifcs, err := nl.Interfaces()
	if err != nil {
		return nl80211.Interface{}, nil, err
	}
	slices.SortFunc(ifcs, func(a, b nl80211.Interface) int { return a.Index - b.Index })
	var seen []string
	for _, ifc := range ifcs {
		seen = append(seen, ifc.Name)
		if name != "" && ifc.Name != name {
			continue
		}
		w, err := nl.Wiphy(ifc.Wiphy)
		if err != nil {
			return nl80211.Interface{}, nil, err
		}
		if w.SupportsAP {
			return ifc, w, nil
		}
		if name != "" {
			return nl80211.Interface{}, nil, fmt.Errorf("interface %s (%s) does not support AP mode", name, w.Name)
		}
	}
	if name != "" {
		return nl80211.Interface{}, nil, fmt.Errorf("wireless interface %s not found (have %v)", name, seen)
	}
	return nl80211.Interface{}, nil, fmt.Errorf("no wireless interface supports AP mode (have %v)", seen)
}

// rereadWiphy waits briefly for the regulatory change to apply, then reads
// the channel list again.
func (s *service) rereadWiphy(ctx context.Context, nl *nl80211.Conn, index int) (*nl80211.Wiphy, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(regSettleTime):
	}
	return nl.Wiphy(index)
}

func usableChannels(w *nl80211.Wiphy) []int {
	var out []int
	for _, ch := range w.Channels {
		if ch.Usable() {
			out = append(out, nl80211.FreqToChannel(ch.FreqMHz))
		}
	}
	return out
}

// configureInterface makes ifc an AP interface that is up and has the box's
// address.
func (s *service) configureInterface(nl *nl80211.Conn, ifc nl80211.Interface) error {
	rt, err := dialRtnl()
	if err != nil {
		return err
	}
	defer rt.Close()
	if ifc.Type != nl80211.IftypeAP {
		if err := rt.setLinkUp(ifc.Index, false); err != nil {
			return err
		}
		if err := nl.SetInterfaceType(ifc.Index, nl80211.IftypeAP); err != nil {
			return err
		}
	}
	if err := rt.setLinkUp(ifc.Index, true); err != nil {
		return err
	}
	return rt.replaceAddr(ifc.Index, s.flags.Address)
}

// document is the /status JSON.
func (s *service) document() any {
	s.mu.Lock()
	doc := s.doc
	radio, dhcp := s.ap, s.dhcp
	s.mu.Unlock()
	doc.Stations = []status.Station{}
	if radio != nil && doc.State == status.StateRunning {
		stas, err := radio.Stations()
		if err != nil {
			s.log.Debug("station dump for status", "err", err)
		}
		for _, st := range stas {
			doc.Stations = append(doc.Stations, status.Station{
				MAC: st.MAC.String(), SignalDBm: st.SignalDBm,
				ConnectedSeconds: float64(st.ConnectedSeconds), Authorized: st.Authorized,
			})
		}
	}
	doc.Leases = []status.Lease{}
	if dhcp != nil {
		doc.Leases = append(doc.Leases, dhcp.Leases()...)
	}
	if !s.flags.NoGuestGuard {
		doc.Guard = s.guardStatus()
	}
	return doc
}

// guardStatus reads the packet filter back from the kernel for every
// status request, so the status shows a guard someone removed.
func (s *service) guardStatus() *status.Guard {
	nr := guestguard.CheckNoRouter("/proc", 0)
	s.mu.Lock()
	guest := s.guard != nil
	s.mu.Unlock()
	g := &status.Guard{ForwardingOff: nr.ForwardingOff, ForwardDrop: nr.ForwardDrop, ForwardDropped: nr.Dropped, GuestFilter: guest}
	if nr.Err != nil {
		g.Error = nr.Err.Error()
	}
	return g
}

func (s *service) writeMetrics(w *metrics.Writer) {
	doc := s.document().(status.Hotspot)
	up := 0.0
	if doc.State == status.StateRunning {
		up = 1
	}
	w.Gauge("kb_hotspot_up", "1 when the access point is beaconing.", up, nil)
	w.Gauge("kb_hotspot_stations", "Associated Wi-Fi stations.", float64(len(doc.Stations)), nil)
	w.Gauge("kb_hotspot_max_stations", "Stations the AP accepts.", float64(doc.MaxStations), nil)
	w.Gauge("kb_hotspot_leases", "Active DHCP leases.", float64(len(doc.Leases)), nil)
	w.Gauge("kb_hotspot_uptime_seconds", "Seconds since the hotspot process started.", time.Since(s.started).Seconds(), nil)
	s.mu.Lock()
	radio, dhcp, dns := s.ap, s.dhcp, s.dns
	s.mu.Unlock()
	if radio != nil {
		joins, leaves, frames := radio.Counters()
		w.Counter("kb_hotspot_station_joins_total", "Stations that associated.", float64(joins), nil)
		w.Counter("kb_hotspot_station_leaves_total", "Stations that left or were removed.", float64(leaves), nil)
		for _, k := range slices.Sorted(maps.Keys(frames)) {
			w.Counter("kb_hotspot_mgmt_frames_total", "Management frames handled by the userspace MLME, by kind.", float64(frames[k]), metrics.Labels{"kind": k})
		}
	}
	s.mu.Lock()
	failures, auth := s.authFailures, s.auth
	s.mu.Unlock()
	w.Counter("kb_hotspot_auth_failures_total", "Stations that failed the WPA2 handshake (wrong passphrase, timeout).", float64(failures), nil)
	if w2, ok := auth.(*ap.WPA2Authenticator); ok {
		rekeys, badMIC := w2.Counters()
		w.Counter("kb_hotspot_eapol_bad_mic_total", "EAPOL message 2s dropped for a bad MIC (wrong passphrase or forged).", float64(badMIC), nil)
		w.Counter("kb_hotspot_group_rekeys_total", "Group key rotations (a station left, or hourly).", float64(rekeys), nil)
	}
	if dhcp != nil {
		dhcp.WriteMetrics(w)
	}
	if dns != nil {
		dns.WriteMetrics(w)
	}
}
