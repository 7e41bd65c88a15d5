package ap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/ieee80211"
	"github.com/kibitzbox/kibitzbox/internal/nl80211"
	"github.com/kibitzbox/kibitzbox/internal/wpa"
	"golang.org/x/sys/unix"
)

// EAPOL transports for our own authenticator.
const (
	EAPOLAuto    = "auto"    // nl80211 control port where the wiphy has it
	EAPOLNL80211 = "nl80211" // CONTROL_PORT_OVER_NL80211
	EAPOLPacket  = "packet"  // AF_PACKET socket for ethertype 0x888e
)

// WPA2Mode says who runs the 4-way handshake.
type WPA2Mode int

const (
	// WPA2Ours is our authenticator, EAPOL over nl80211's control port.
	WPA2Ours WPA2Mode = iota
	// WPA2OursPacket is our authenticator, EAPOL over an AF_PACKET socket.
	WPA2OursPacket
	// WPA2Offload is the firmware's authenticator (brcmfmac "idauth").
	WPA2Offload
)

func (m WPA2Mode) String() string {
	switch m {
	case WPA2Ours:
		return "userspace authenticator, EAPOL over nl80211"
	case WPA2OursPacket:
		return "userspace authenticator, EAPOL over AF_PACKET"
	case WPA2Offload:
		return "firmware 4-way handshake offload"
	}
	return fmt.Sprintf("WPA2Mode(%d)", int(m))
}

// ChooseWPA2Mode picks the handshake path for a wiphy: the firmware's where
// a fullmac driver advertises the AP PSK offload, else ours, with EAPOL
// over nl80211 where the driver supports it (transport "auto").
func ChooseWPA2Mode(w *nl80211.Wiphy, transport string) (WPA2Mode, error) {
	if w.APSME && w.HasExtFeature(nl80211.ExtFeature4WayHandshakeAPPSK) {
		return WPA2Offload, nil
	}
	overNL := w.HasExtFeature(nl80211.ExtFeatureControlPortOverNL80211)
	switch transport {
	case "", EAPOLAuto:
		if overNL {
			return WPA2Ours, nil
		}
		return WPA2OursPacket, nil
	case EAPOLNL80211:
		if !overNL {
			return 0, fmt.Errorf("wiphy %s cannot carry EAPOL over nl80211", w.Name)
		}
		return WPA2Ours, nil
	case EAPOLPacket:
		return WPA2OursPacket, nil
	}
	return 0, fmt.Errorf("EAPOL transport %q: want auto, nl80211 or packet", transport)
}

// WPA2Authenticator is WPA2-Personal (PSK, CCMP, no MFP). Depending on its
// mode it leaves the handshake to the firmware or runs wpa.Authenticator.
type WPA2Authenticator struct {
	mode WPA2Mode
	pmk  []byte
	log  *slog.Logger
	// onFailure is told about stations that failed the handshake.
	onFailure func(mac net.HardwareAddr, reason string)

	// GroupRekey is how often the group key is replaced even when no
	// station leaves; NewWPA2Authenticator sets DefaultGroupRekey.
	GroupRekey time.Duration

	// Set by Start.
	ctx      context.Context
	auth     *wpa.Authenticator
	port     *radioPort
	left     chan struct{} // a station left: rotate the group key soon
	gtkIndex int           // only rotate's goroutine touches it after Start

	mu     sync.Mutex
	rekeys uint64
}

// Group key rotation: a station that leaves still knows the group key, so
// the key changes when one leaves (a burst of leaves makes one change) and
// hourly.
const (
	DefaultGroupRekey = time.Hour
	rekeyAfterLeave   = time.Second
)

// NewWPA2Authenticator derives the PSK from passphrase and SSID.
func NewWPA2Authenticator(mode WPA2Mode, ssid, passphrase string, log *slog.Logger, onFailure func(net.HardwareAddr, string)) (*WPA2Authenticator, error) {
	pmk, err := wpa.PSK(passphrase, []byte(ssid))
	if err != nil {
		return nil, fmt.Errorf("WPA2 PSK for SSID %q: %w", ssid, err)
	}
	return &WPA2Authenticator{mode: mode, pmk: pmk, log: log, onFailure: onFailure,
		GroupRekey: DefaultGroupRekey, left: make(chan struct{}, 1)}, nil
}

// Mode reports who runs the handshake.
func (a *WPA2Authenticator) Mode() WPA2Mode { return a.mode }

func (a *WPA2Authenticator) Security() string { return SecurityWPA2 }

// RSN returns CCMP/PSK settings; the PMK goes to the firmware only when it
// runs the handshake, and MFP is never asked for.
func (a *WPA2Authenticator) RSN() *nl80211.RSN {
	r := &nl80211.RSN{
		Pairwise: nl80211.CipherCCMP, Group: nl80211.CipherCCMP, AKM: nl80211.AKMPSK,
		ControlPortOverNL80211: a.mode == WPA2Ours,
	}
	if a.mode == WPA2Offload {
		r.PMK = a.pmk
	}
	return r
}

func (a *WPA2Authenticator) Elements() []byte { return wpa.RSNE() }

// Check refuses stations whose RSN element is not WPA2-PSK with CCMP.
func (a *WPA2Authenticator) Check(mac net.HardwareAddr, req ieee80211.AssocRequest) uint16 {
	if a.mode == WPA2Offload {
		return ieee80211.StatusSuccess // the firmware checked it
	}
	if _, err := wpa.CheckStationRSNE(req.IEs); err != nil {
		a.log.Info("association refused", "mac", mac.String(), "err", err)
		return ieee80211.StatusInvalidElement
	}
	return ieee80211.StatusSuccess
}

// Start installs a fresh group key and starts the authenticator.
func (a *WPA2Authenticator) Start(ctx context.Context, ap *AP) error {
	if a.mode == WPA2Offload {
		return nil
	}
	gtk := make([]byte, 16)
	if _, err := rand.Read(gtk); err != nil {
		return fmt.Errorf("generate GTK: %w", err)
	}
	const gtkIndex = 1
	if err := ap.req.NewKey(nl80211.Key{Ifindex: ap.ifindex, Index: gtkIndex, Cipher: nl80211.CipherCCMP, Data: gtk}); err != nil {
		return fmt.Errorf("install group key: %w", err)
	}
	if err := ap.req.SetDefaultGroupKey(ap.ifindex, gtkIndex); err != nil {
		return err
	}
	port := &radioPort{ap: ap, keyed: map[string]bool{}}
	if a.mode == WPA2OursPacket {
		sock, err := openEAPOLSocket(ap.ifindex)
		if err != nil {
			return err
		}
		port.packet = sock
	}
	auth, err := wpa.NewAuthenticator(wpa.Config{
		BSSID: ap.cfg.Interface.MAC, PMK: a.pmk, GTK: gtk, GTKIndex: gtkIndex,
		Logger: a.log, OnFailure: a.onFailure,
	}, port)
	if err != nil {
		if port.packet != nil {
			unix.Close(port.packet.fd) // no reader runs yet
		}
		return err
	}
	a.ctx, a.auth, a.port, a.gtkIndex = ctx, auth, port, gtkIndex
	go auth.Run(ctx)
	go a.rotate(ctx, func(index int, gtk []byte) error {
		if err := ap.req.NewKey(nl80211.Key{Ifindex: ap.ifindex, Index: index, Cipher: nl80211.CipherCCMP, Data: gtk}); err != nil {
			return err
		}
		return ap.req.SetDefaultGroupKey(ap.ifindex, index)
	})
	if port.packet != nil {
		go func() {
			<-ctx.Done()
			port.packet.Close()
		}()
		go port.packet.receive(auth.Receive, a.log)
	}
	a.log.Info("WPA2 authenticator running", "mode", a.mode.String())
	return nil
}

// Associated starts the 4-way handshake.
func (a *WPA2Authenticator) Associated(mac net.HardwareAddr, req ieee80211.AssocRequest) {
	if a.auth == nil {
		return
	}
	rsne, err := wpa.CheckStationRSNE(req.IEs)
	if err != nil {
		return // Check refused it already
	}
	a.port.forget(mac) // a new association starts without keys
	a.auth.Associated(a.ctx, mac, rsne)
}

func (a *WPA2Authenticator) EAPOL(mac net.HardwareAddr, frame []byte) {
	if a.auth != nil {
		a.auth.Receive(mac, frame)
	}
}

func (a *WPA2Authenticator) Left(mac net.HardwareAddr) {
	if a.auth != nil {
		a.port.forget(mac)
		a.auth.Disassociated(a.ctx, mac)
		select {
		case a.left <- struct{}{}:
		default: // a rotation is already due
		}
	}
}

// rotate replaces the group key hourly and soon after a station left:
// a fresh key at the other index (1 or 2), installed in the driver and
// made the transmit key at once (as hostapd does), then sent to every
// authorized station with the group key handshake. Stations that miss it
// are deauthenticated by the handshake's timeout.
func (a *WPA2Authenticator) rotate(ctx context.Context, install func(index int, gtk []byte) error) {
	tick := time.NewTicker(a.GroupRekey)
	defer tick.Stop()
	var soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.left:
			if soon == nil {
				soon = time.After(rekeyAfterLeave)
			}
			continue
		case <-soon:
			soon = nil
		case <-tick.C:
		}
		gtk := make([]byte, 16)
		if _, err := rand.Read(gtk); err != nil {
			a.log.Error("group key rotation: no randomness", "err", err)
			continue
		}
		index := 3 - a.gtkIndex
		if err := install(index, gtk); err != nil {
			a.log.Error("group key rotation: installing the new key failed; keeping the old one", "index", index, "err", err)
			continue
		}
		a.gtkIndex = index
		a.auth.Rekey(ctx, gtk, index)
		a.mu.Lock()
		a.rekeys++
		a.mu.Unlock()
		a.log.Info("group key rotated", "index", index)
	}
}

// Counters returns the group key rotations and the EAPOL message 2s
// dropped for a bad MIC (wrong passphrase or forged).
func (a *WPA2Authenticator) Counters() (rekeys, badMIC uint64) {
	a.mu.Lock()
	rekeys = a.rekeys
	a.mu.Unlock()
	if a.auth != nil {
		badMIC = a.auth.BadMIC()
	}
	return rekeys, badMIC
}

// radioPort is wpa.Port on an AP. The wpa.Port methods run on the
// authenticator's goroutine; forget also runs on the AP's.
type radioPort struct {
	ap     *AP
	packet *eapolSocket // nil: EAPOL over nl80211

	mu    sync.Mutex
	keyed map[string]bool // stations whose pairwise key is installed
}

func (p *radioPort) SendEAPOL(sta net.HardwareAddr, frame []byte) error {
	if p.packet != nil {
		return p.packet.send(sta, frame)
	}
	p.mu.Lock()
	keyed := p.keyed[sta.String()]
	p.mu.Unlock()
	// Before the pairwise key exists the handshake goes in the clear.
	return p.ap.req.SendControlPortFrame(p.ap.ifindex, sta, frame, !keyed)
}

func (p *radioPort) InstallPairwiseKey(sta net.HardwareAddr, tk []byte) error {
	err := p.ap.req.NewKey(nl80211.Key{Ifindex: p.ap.ifindex, MAC: sta, Index: 0, Cipher: nl80211.CipherCCMP, Data: tk})
	if err == nil {
		p.mu.Lock()
		if len(p.keyed) > 4096 {
			clear(p.keyed) // bounded; a stale entry only costs one clear-text retry
		}
		p.keyed[sta.String()] = true
		p.mu.Unlock()
	}
	return err
}

func (p *radioPort) Authorize(sta net.HardwareAddr) error {
	return p.ap.req.SetStationAuthorized(p.ap.ifindex, sta, true)
}

func (p *radioPort) Deauthenticate(sta net.HardwareAddr, reason uint16) error {
	p.forget(sta)
	return p.ap.Deauthenticate(sta, reason)
}

func (p *radioPort) forget(sta net.HardwareAddr) {
	p.mu.Lock()
	delete(p.keyed, sta.String())
	p.mu.Unlock()
}

// BrokenEncryptedAP returns why this interface's chip cannot run an
// encrypted AP, or "". The Zero 2 W's CYW43436 (brcmfmac, firmware
// 9.88.4.77) beacons and associates with WPA2 but never delivers encrypted
// frames (RPi-Distro/firmware-nonfree#59); open works. sysRoot is "/" on
// the box (a test passes a fake tree).
func BrokenEncryptedAP(sysRoot, ifname string) string {
	model, err := os.ReadFile(filepath.Join(sysRoot, "proc/device-tree/model"))
	if err != nil {
		return "" // not a device-tree machine: not a Pi
	}
	driver, err := os.Readlink(filepath.Join(sysRoot, "sys/class/net", ifname, "device/driver"))
	if err != nil || filepath.Base(driver) != "brcmfmac" {
		return "" // a USB dongle on a Zero 2 W is fine
	}
	m := strings.TrimRight(string(model), "\x00\n")
	if strings.Contains(m, "Zero 2 W") {
		return m + ": its Wi-Fi chip (CYW43436, brcmfmac) cannot send encrypted frames in AP mode; running an open network"
	}
	return ""
}

// errClosed is returned by a closed EAPOL socket.
var errClosed = errors.New("EAPOL socket closed")
