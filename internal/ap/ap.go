// Package ap is the access point itself: it starts beaconing over nl80211
// (START_AP), runs the userspace MLME that softmac radios need (probe,
// authentication and association answers, station table, inactivity), and
// glues the WPA2 authenticator (internal/wpa) to the radio: keys over
// NEW_KEY, EAPOL over the nl80211 control port or an AF_PACKET socket.
// What runs around it (modules, addresses, DHCP, DNS, status) is
// internal/hotspot.
package ap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/ieee80211"
	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"golang.org/x/sys/unix"
)

// Authenticator decides who may pass data after association. The open
// network authorizes at once. WPA2 (WPA2Authenticator) returns RSN
// settings and its RSN element, refuses requests without a matching RSN
// element in Check, keeps stations unauthorized until its 4-way handshake
// over EAPOL has installed their key, and then authorizes them.
type Authenticator interface {
	// Security is "open" or "wpa2".
	Security() string
	// RSN returns the START_AP security settings, or nil for open.
	RSN() *nl80211.RSN
	// Elements returns extra elements (e.g. RSN) for beacons and probe
	// responses.
	Elements() []byte
	// Start is called once the AP beacons; goroutines it starts end with
	// ctx.
	Start(ctx context.Context, ap *AP) error
	// Check vets a (re)association request before the station is added;
	// a non-zero 802.11 status code refuses it.
	Check(mac net.HardwareAddr, req ieee80211.AssocRequest) uint16
	// Associated is called after the station was added to the kernel (not
	// authorized unless Security is open) and, on softmac radios, after
	// the association response went out.
	Associated(mac net.HardwareAddr, req ieee80211.AssocRequest)
	// EAPOL receives the EAPOL frames a station sent (control port).
	EAPOL(mac net.HardwareAddr, frame []byte)
	// Left is called when a station is gone.
	Left(mac net.HardwareAddr)
}

// OpenAuthenticator is the open network: everyone who associates may talk.
type OpenAuthenticator struct{}

func (OpenAuthenticator) Security() string                                    { return SecurityOpen }
func (OpenAuthenticator) RSN() *nl80211.RSN                                   { return nil }
func (OpenAuthenticator) Elements() []byte                                    { return nil }
func (OpenAuthenticator) Start(context.Context, *AP) error                    { return nil }
func (OpenAuthenticator) EAPOL(net.HardwareAddr, []byte)                      {}
func (OpenAuthenticator) Left(net.HardwareAddr)                               {}
func (OpenAuthenticator) Associated(net.HardwareAddr, ieee80211.AssocRequest) {}
func (OpenAuthenticator) Check(net.HardwareAddr, ieee80211.AssocRequest) uint16 {
	return ieee80211.StatusSuccess
}

// Config is what Start needs.
type Config struct {
	Interface         nl80211.Interface
	Wiphy             *nl80211.Wiphy
	SSID              string
	Hidden            bool
	Channel           int
	Country           string
	APIsolate         bool
	MaxStations       int
	InactivityTimeout time.Duration
	Auth              Authenticator
	Logger            *slog.Logger
}

// Limits of the userspace MLME.
const (
	maxAID            = 2007
	maxPendingAuth    = 256 // authenticated but not yet associated stations
	pendingAuthExpiry = time.Minute
	housekeepInterval = 10 * time.Second
	maxOverrunsLogged = 10
	eventReadBuffer   = 1 << 20
)

// AP is a running access point on one interface.
type AP struct {
	cfg Config
	log *slog.Logger
	req *nl80211.Conn // requests after start
	// events receives registered frames and mlme events. It also sent
	// START_AP, so it owns the AP (SOCKET_OWNER): frames the kernel sends
	// to the owner (e.g. EAPOL over the control port, for WPA2) arrive
	// here and not between the request socket's replies.
	events  *nl80211.Conn
	ifindex int
	freq    int
	bss     ieee80211.BSS
	softmac bool

	mu       sync.Mutex
	stations map[string]*mlmeStation // softmac MLME state by MAC
	fullmac  map[string]bool         // stations the firmware associated (fullmac)
	banned   map[string]time.Time    // MACs the operator kicked, until when
	frames   map[string]uint64       // received management frames by kind
	joins    uint64
	leaves   uint64

	done chan struct{}
}

type mlmeStation struct {
	mac        net.HardwareAddr
	associated bool
	aid        int
	since      time.Time // monotonic; last auth or association
}

// FrameTypesMLME are the management frames the userspace MLME answers.
var FrameTypesMLME = []uint16{
	ieee80211.FrameProbeReq, ieee80211.FrameAuth, ieee80211.FrameAssocReq,
	ieee80211.FrameReassocReq, ieee80211.FrameDisassoc, ieee80211.FrameDeauth,
}

// Start starts beaconing on the (already AP-type, up) interface and, on
// softmac radios, the userspace MLME. It returns when the AP is up; the
// AP runs until ctx ends (Done is closed then).
func Start(ctx context.Context, cfg Config) (*AP, error) {
	if cfg.Auth == nil {
		cfg.Auth = OpenAuthenticator{}
	}
	log := cfg.Logger
	freq := nl80211.ChannelToFreq(cfg.Channel)
	if err := checkChannel(cfg.Wiphy, cfg.Channel); err != nil {
		return nil, err
	}
	req, err := nl80211.Dial()
	if err != nil {
		return nil, err
	}
	events, err := nl80211.Dial()
	if err != nil {
		req.Close()
		return nil, err
	}
	ap := &AP{
		cfg: cfg, log: log, req: req, events: events,
		ifindex: cfg.Interface.Index, freq: freq,
		softmac:  !cfg.Wiphy.APSME,
		stations: map[string]*mlmeStation{},
		fullmac:  map[string]bool{},
		banned:   map[string]time.Time{},
		frames:   map[string]uint64{},
		done:     make(chan struct{}),
	}
	ap.bss = buildBSS(cfg)
	if err := ap.start(); err != nil {
		req.Close()
		events.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	if err := cfg.Auth.Start(ctx, ap); err != nil {
		cancel()
		events.Close() // the owner socket: closing it stops the AP
		if serr := req.StopAP(ap.ifindex); serr != nil && !errors.Is(serr, unix.ENOENT) {
			log.Debug("stop AP", "err", serr)
		}
		req.Close()
		return nil, fmt.Errorf("start %s authenticator: %w", cfg.Auth.Security(), err)
	}
	go ap.run(ctx, cancel)
	return ap, nil
}

func (ap *AP) start() error {
	if err := ap.events.SetReadBuffer(eventReadBuffer); err != nil {
		ap.log.Debug("event socket read buffer", "err", err)
	}
	if ap.softmac {
		// Registrations must exist before beaconing starts, or the first
		// probe requests go unanswered.
		for _, ft := range FrameTypesMLME {
			if err := ap.events.RegisterFrame(ap.ifindex, ft, nil); err != nil {
				return err
			}
		}
	} else if err := ap.events.JoinMLME(); err != nil {
		return err
	}
	p := startAPMessage(ap.cfg, &ap.bss)
	err := ap.events.StartAP(p)
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EALREADY) {
		// An AP left over from a process that did not own its socket.
		ap.log.Info("interface already beaconing; stopping the old AP first", "iface", ap.cfg.Interface.Name)
		if serr := ap.req.StopAP(ap.ifindex); serr != nil {
			return fmt.Errorf("%w (and then: %w)", err, serr)
		}
		err = ap.events.StartAP(p)
	}
	if err != nil {
		return err
	}
	if err := ap.req.SetAPIsolate(ap.ifindex, ap.cfg.APIsolate); err != nil {
		ap.log.Warn("AP isolation not supported by this driver; stations can reach each other directly", "err", err)
	}
	ap.log.Info("access point started",
		"iface", ap.cfg.Interface.Name, "ssid", ap.cfg.SSID, "channel", ap.cfg.Channel,
		"freq_mhz", ap.freq, "security", ap.cfg.Auth.Security(), "hidden", ap.cfg.Hidden,
		"mlme", map[bool]string{true: "userspace (softmac)", false: "driver (fullmac)"}[ap.softmac])
	return nil
}

// checkChannel refuses channels the regulatory rules forbid for beaconing.
func checkChannel(w *nl80211.Wiphy, channel int) error {
	freq := nl80211.ChannelToFreq(channel)
	if freq == 0 {
		return fmt.Errorf("channel %d: not a Wi-Fi channel", channel)
	}
	var usable []int
	for _, ch := range w.Channels {
		if ch.FreqMHz == freq {
			if ch.Usable() {
				return nil
			}
			return fmt.Errorf("channel %d (%d MHz) is disabled, no-IR or radar on %s in this country", channel, freq, w.Name)
		}
		if ch.Usable() {
			usable = append(usable, nl80211.FreqToChannel(ch.FreqMHz))
		}
	}
	return fmt.Errorf("channel %d (%d MHz) is not supported by %s; usable: %v", channel, freq, w.Name, usable)
}

// countryElement builds the Country element from the wiphy's usable 2.4 GHz
// channels (one subband triplet: first channel, count, lowest max power).
func countryElement(alpha2 string, w *nl80211.Wiphy, channel int) []byte {
	if nl80211.ChannelToFreq(channel) > 3000 {
		return nil // 5 GHz subbands are not contiguous; leave the IE out
	}
	first, n, power := 0, 0, 0
	for _, ch := range w.Channels {
		c := nl80211.FreqToChannel(ch.FreqMHz)
		if ch.FreqMHz > 3000 || c == 14 || !ch.Usable() {
			continue
		}
		if first == 0 {
			first = c
		}
		if c != first+n {
			break
		}
		n++
		if p := ch.MaxPowerMBm / 100; power == 0 || p < power {
			power = p
		}
	}
	if n == 0 {
		return nil
	}
	return ieee80211.CountryElement(alpha2, first, n, power)
}

// buildBSS describes the network the AP announces.
func buildBSS(cfg Config) ieee80211.BSS {
	capab := ieee80211.CapESS
	if cfg.Auth.RSN() != nil {
		capab |= ieee80211.CapPrivacy
	}
	return ieee80211.BSS{
		BSSID:          cfg.Interface.MAC,
		SSID:           cfg.SSID,
		Hidden:         cfg.Hidden,
		Channel:        cfg.Channel,
		BeaconInterval: 100,
		Capability:     capab,
		Rates:          ieee80211.RatesFor(cfg.Channel),
		Country:        countryElement(cfg.Country, cfg.Wiphy, cfg.Channel),
		ExtraTail:      cfg.Auth.Elements(),
	}
}

// startAPMessage is the START_AP request for cfg.
func startAPMessage(cfg Config, bss *ieee80211.BSS) nl80211.StartAP {
	return nl80211.StartAP{
		Ifindex:        cfg.Interface.Index,
		BeaconHead:     bss.BeaconHead(),
		BeaconTail:     bss.BeaconTail(),
		BeaconInterval: int(bss.BeaconInterval),
		DTIMPeriod:     2,
		SSID:           cfg.SSID,
		Hidden:         cfg.Hidden,
		FreqMHz:        nl80211.ChannelToFreq(cfg.Channel),
		RSN:            cfg.Auth.RSN(),
		SocketOwner:    true,
	}
}

// Softmac reports whether this AP runs the userspace MLME.
func (ap *AP) Softmac() bool { return ap.softmac }

// Done is closed when the AP has stopped.
func (ap *AP) Done() <-chan struct{} { return ap.done }

func (ap *AP) run(ctx context.Context, cancel context.CancelFunc) {
	defer close(ap.done)
	defer cancel()
	go func() {
		<-ctx.Done()
		ap.events.Close() // unblocks Receive and, as the owner, stops the AP
	}()
	go ap.housekeep(ctx)
	overruns := 0
	for {
		evs, err := ap.events.Receive()
		if errors.Is(err, unix.ENOBUFS) && ctx.Err() == nil && overruns < maxOverrunsLogged {
			// A frame burst overflowed the socket; the lost frames were
			// probes or retries that stations send again.
			overruns++
			ap.count("overrun")
			ap.log.Warn("nl80211 event socket overrun; management frames dropped", "overruns", overruns)
			continue
		} else if errors.Is(err, unix.ENOBUFS) && ctx.Err() == nil {
			ap.count("overrun")
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				ap.log.Error("nl80211 event socket failed; stopping the AP", "err", err)
			}
			break
		}
		for _, ev := range evs {
			if ev.Ifindex != 0 && ev.Ifindex != ap.ifindex {
				continue
			}
			ap.handleEvent(ev)
		}
	}
	cancel()
	if err := ap.req.StopAP(ap.ifindex); err != nil && !errors.Is(err, unix.ENOENT) {
		ap.log.Debug("stop AP", "err", err)
	}
	ap.req.Close()
	ap.log.Info("access point stopped", "iface", ap.cfg.Interface.Name)
}

func (ap *AP) handleEvent(ev nl80211.Event) {
	switch ev.Cmd {
	case nl80211.CmdFrame:
		ap.handleFrame(ev)
	case nl80211.CmdControlPortFrame:
		if ev.MAC != nil {
			ap.count("eapol")
			ap.cfg.Auth.EAPOL(ev.MAC, ev.Frame)
		}
	case nl80211.CmdNewStation:
		if ap.softmac || ev.MAC == nil {
			return // our own NEW_STATION echoed back
		}
		ap.count("fullmac_join")
		ap.log.Info("station associated", "mac", ev.MAC.String())
		if ap.isBanned(ev.MAC) {
			// The firmware has no ban list: remove the station again.
			ap.count("banned")
			ap.Deauthenticate(ev.MAC, ieee80211.ReasonUnspecified)
			return
		}
		// The firmware did the association; its request's elements come
		// with the event, and the authenticator vets them.
		req := ieee80211.AssocRequest{IEs: ev.IE}
		if st := ap.cfg.Auth.Check(ev.MAC, req); st != ieee80211.StatusSuccess {
			ap.log.Warn("station refused after association", "mac", ev.MAC.String(), "status", st)
			ap.Deauthenticate(ev.MAC, ieee80211.ReasonUnspecified)
			return
		}
		ap.mu.Lock()
		ap.fullmac[ev.MAC.String()] = true
		ap.mu.Unlock()
		ap.cfg.Auth.Associated(ev.MAC, req)
	case nl80211.CmdDelStation:
		if ap.softmac || ev.MAC == nil {
			return
		}
		ap.mu.Lock()
		delete(ap.fullmac, ev.MAC.String())
		ap.mu.Unlock()
		ap.count("fullmac_leave")
		ap.cfg.Auth.Left(ev.MAC)
		ap.log.Info("station left", "mac", ev.MAC.String())
	}
}

func (ap *AP) count(kind string) {
	ap.mu.Lock()
	ap.frames[kind]++
	switch kind {
	case "fullmac_join":
		ap.joins++
	case "fullmac_leave":
		ap.leaves++
	}
	ap.mu.Unlock()
}

func (ap *AP) send(frame []byte) {
	if err := ap.req.SendFrame(ap.ifindex, ap.freq, frame); err != nil {
		ap.log.Warn("transmit management frame failed", "err", err)
	}
}

// handleFrame is the userspace MLME. Frames come from anyone in radio
// range, so every parse failure just drops the frame.
func (ap *AP) handleFrame(ev nl80211.Event) {
	f, err := ieee80211.ParseFrame(ev.Frame)
	if err != nil {
		ap.count("malformed")
		return
	}
	bssid := ap.bss.BSSID
	ours := slices.Equal(f.BSSID, bssid) && slices.Equal(f.DA, bssid)
	switch f.Type {
	case ieee80211.FrameProbeReq:
		ap.count("probe_req")
		ap.handleProbe(f)
	case ieee80211.FrameAuth:
		if ours {
			ap.count("auth")
			ap.handleAuth(f)
		}
	case ieee80211.FrameAssocReq, ieee80211.FrameReassocReq:
		if ours {
			ap.count("assoc_req")
			ap.handleAssoc(f, f.Type == ieee80211.FrameReassocReq)
		}
	case ieee80211.FrameDisassoc, ieee80211.FrameDeauth:
		if ours {
			ap.count("deauth")
			ap.removeStation(f.SA, "station left")
		}
	}
}

func (ap *AP) handleProbe(f ieee80211.Frame) {
	if !slices.Equal(f.DA, ieee80211.Broadcast) && !slices.Equal(f.DA, ap.bss.BSSID) {
		return
	}
	els, _ := ieee80211.ParseElements(f.Body)
	ssid, ok := els[ieee80211.ElemSSID]
	if !ok {
		return
	}
	// A wildcard probe gets an answer unless the network is hidden.
	if len(ssid) == 0 && ap.cfg.Hidden || len(ssid) > 0 && string(ssid) != ap.cfg.SSID {
		return
	}
	ap.send(ap.bss.ProbeResponse(f.SA))
}

func (ap *AP) handleAuth(f ieee80211.Frame) {
	auth, err := ieee80211.ParseAuth(f.Body)
	if err != nil || auth.Seq != 1 {
		ap.count("malformed")
		return
	}
	mac := append(net.HardwareAddr(nil), f.SA...)
	if ap.isBanned(mac) {
		ap.count("banned")
		ap.send(ap.bss.AuthResponse(mac, auth.Algorithm, ieee80211.StatusUnspecified))
		return
	}
	if auth.Algorithm != 0 {
		ap.send(ap.bss.AuthResponse(mac, auth.Algorithm, ieee80211.StatusUnsupportedAuthAlg))
		return
	}
	ap.mu.Lock()
	st, known := ap.stations[mac.String()]
	if known && st.associated {
		// A station that authenticates again has lost its old state.
		ap.mu.Unlock()
		ap.removeStation(mac, "station re-authenticating")
		ap.mu.Lock()
		known = false
	}
	if !known {
		ap.expirePendingLocked()
		ap.evictPendingLocked()
		st = &mlmeStation{mac: mac}
		ap.stations[mac.String()] = st
	}
	st.since = time.Now()
	ap.mu.Unlock()
	ap.log.Debug("station authenticated", "mac", mac.String())
	ap.send(ap.bss.AuthResponse(mac, 0, ieee80211.StatusSuccess))
}

// evictPendingLocked makes room for one more authenticated station by
// forgetting the oldest one that has not associated. A flood of fake
// authentications then only churns the pending entries; it cannot lock
// real stations out.
func (ap *AP) evictPendingLocked() {
	pending := 0
	var oldest *mlmeStation
	for _, st := range ap.stations {
		if st.associated {
			continue
		}
		pending++
		if oldest == nil || st.since.Before(oldest.since) {
			oldest = st
		}
	}
	if pending >= maxPendingAuth && oldest != nil {
		delete(ap.stations, oldest.mac.String())
		ap.frames["auth_evicted"]++
	}
}

// expirePendingLocked forgets stations that authenticated but never
// associated, so the table stays bounded.
func (ap *AP) expirePendingLocked() {
	for k, st := range ap.stations {
		if !st.associated && time.Since(st.since) > pendingAuthExpiry {
			delete(ap.stations, k)
		}
	}
}

func (ap *AP) handleAssoc(f ieee80211.Frame, reassoc bool) {
	mac := append(net.HardwareAddr(nil), f.SA...)
	req, err := ieee80211.ParseAssocRequest(f.Body, reassoc)
	ap.mu.Lock()
	st, known := ap.stations[mac.String()]
	ap.mu.Unlock()
	if !known {
		ap.send(ap.bss.Deauth(mac, false, ieee80211.ReasonClass2FromNonAuthSTA))
		return
	}
	if err != nil || req.SSID != ap.cfg.SSID {
		ap.count("malformed")
		ap.send(ap.bss.AssocResponse(mac, reassoc, ieee80211.StatusUnspecified, 0))
		return
	}
	if status := ap.cfg.Auth.Check(mac, req); status != ieee80211.StatusSuccess {
		ap.count("assoc_refused")
		ap.send(ap.bss.AssocResponse(mac, reassoc, status, 0))
		return
	}
	if st.associated {
		// Reassociation: replace the kernel's entry.
		if err := ap.req.DelStation(ap.ifindex, mac); err != nil && !errors.Is(err, unix.ENOENT) {
			ap.log.Debug("delete station before reassociation", "mac", mac.String(), "err", err)
		}
	}
	ap.mu.Lock()
	aid := st.aid
	if aid == 0 {
		aid = ap.freeAIDLocked()
	}
	if aid == 0 {
		ap.mu.Unlock()
		ap.log.Warn("station refused: AP is full", "mac", mac.String(), "max_stations", ap.cfg.MaxStations)
		ap.send(ap.bss.AssocResponse(mac, reassoc, ieee80211.StatusAPFull, 0))
		return
	}
	st.aid = aid
	ap.mu.Unlock()

	authorized := ap.cfg.Auth.Security() == SecurityOpen
	err = ap.req.NewStation(nl80211.NewStation{
		Ifindex: ap.ifindex, MAC: mac, AID: aid,
		ListenInterval: int(req.ListenInterval), Rates: req.Rates, Authorized: authorized,
	})
	if err != nil {
		ap.log.Warn("could not add station", "mac", mac.String(), "err", err)
		ap.mu.Lock()
		st.aid = 0
		ap.mu.Unlock()
		ap.send(ap.bss.AssocResponse(mac, reassoc, ieee80211.StatusUnspecified, 0))
		return
	}
	ap.mu.Lock()
	wasAssociated := st.associated
	st.associated, st.since = true, time.Now()
	if !wasAssociated {
		ap.joins++
	}
	ap.mu.Unlock()
	ap.send(ap.bss.AssocResponse(mac, reassoc, ieee80211.StatusSuccess, aid))
	ap.log.Info("station associated", "mac", mac.String(), "aid", aid, "reassoc", reassoc, "authorized", authorized)
	ap.cfg.Auth.Associated(mac, req)
}

// freeAIDLocked returns the lowest unused association ID, or 0 when
// MaxStations are associated.
func (ap *AP) freeAIDLocked() int {
	used := map[int]bool{}
	n := 0
	for _, st := range ap.stations {
		if st.aid != 0 {
			used[st.aid] = true
			n++
		}
	}
	if n >= ap.cfg.MaxStations {
		return 0
	}
	for aid := 1; aid <= maxAID; aid++ {
		if !used[aid] {
			return aid
		}
	}
	return 0
}

func (ap *AP) removeStation(mac net.HardwareAddr, why string) {
	if ap.forgetStation(mac) {
		ap.cfg.Auth.Left(mac)
		ap.log.Info(why, "mac", mac.String())
	}
}

// maxBanned bounds the ban list; the oldest ban goes first.
const maxBanned = 256

// Ban deauthenticates mac and refuses it until the time given (the
// operator kicked it).
func (ap *AP) Ban(mac net.HardwareAddr, until time.Time) error {
	ap.mu.Lock()
	now := time.Now()
	for m, t := range ap.banned {
		if now.After(t) {
			delete(ap.banned, m)
		}
	}
	if len(ap.banned) >= maxBanned {
		var oldest string
		for m, t := range ap.banned {
			if oldest == "" || t.Before(ap.banned[oldest]) {
				oldest = m
			}
		}
		delete(ap.banned, oldest)
	}
	ap.banned[mac.String()] = until
	ap.mu.Unlock()
	err := ap.Deauthenticate(mac, ieee80211.ReasonUnspecified)
	ap.cfg.Auth.Left(mac)
	return err
}

func (ap *AP) isBanned(mac net.HardwareAddr) bool {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	until, ok := ap.banned[mac.String()]
	return ok && time.Now().Before(until)
}

// Deauthenticate sends sta a deauthentication and removes it from the
// kernel (for fullmac drivers DEL_STATION does both). It does not tell the
// authenticator, which calls it.
func (ap *AP) Deauthenticate(mac net.HardwareAddr, reason uint16) error {
	if !ap.softmac {
		ap.mu.Lock()
		delete(ap.fullmac, mac.String())
		ap.mu.Unlock()
		if err := ap.req.DelStation(ap.ifindex, mac); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
		return nil
	}
	ap.send(ap.bss.Deauth(mac, false, reason))
	ap.forgetStation(mac)
	return nil
}

// forgetStation removes mac from the MLME and the kernel and reports
// whether it was associated.
func (ap *AP) forgetStation(mac net.HardwareAddr) bool {
	ap.mu.Lock()
	st, ok := ap.stations[mac.String()]
	delete(ap.stations, mac.String())
	wasAssociated := ok && st.associated
	if wasAssociated {
		ap.leaves++
	}
	ap.mu.Unlock()
	if !wasAssociated {
		return false
	}
	if err := ap.req.DelStation(ap.ifindex, mac); err != nil && !errors.Is(err, unix.ENOENT) {
		ap.log.Warn("could not remove station", "mac", mac.String(), "err", err)
	}
	return true
}

// housekeep drops idle stations (softmac only: fullmac firmware does it).
func (ap *AP) housekeep(ctx context.Context) {
	if !ap.softmac || ap.cfg.InactivityTimeout <= 0 {
		return
	}
	t := time.NewTicker(housekeepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stas, err := ap.req.Stations(ap.ifindex)
		if err != nil {
			ap.log.Debug("station dump", "err", err)
			continue
		}
		for _, s := range stas {
			if time.Duration(s.InactiveMillis)*time.Millisecond > ap.cfg.InactivityTimeout {
				ap.send(ap.bss.Deauth(s.MAC, false, ieee80211.ReasonInactivity))
				ap.removeStation(s.MAC, "station idle; removed")
			}
		}
		ap.mu.Lock()
		ap.expirePendingLocked()
		ap.mu.Unlock()
	}
}

// Associated reports whether mac is a station associated to this AP now
// (the DHCP server serves only those).
func (ap *AP) Associated(mac net.HardwareAddr) bool {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	if !ap.softmac {
		return ap.fullmac[mac.String()]
	}
	st := ap.stations[mac.String()]
	return st != nil && st.associated
}

// Stations returns the kernel's view of the associated stations.
func (ap *AP) Stations() ([]nl80211.StationInfo, error) {
	return ap.req.Stations(ap.ifindex)
}

// Counters returns joins, leaves and management frames by kind.
func (ap *AP) Counters() (joins, leaves uint64, frames map[string]uint64) {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	return ap.joins, ap.leaves, maps.Clone(ap.frames)
}

// Security modes, as the status reports them.
const (
	SecurityOpen = status.SecurityOpen
	SecurityWPA2 = status.SecurityWPA2
)
