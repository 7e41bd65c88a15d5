// Command frameinject is the VM test's hostile radio: from a monitor
// interface it sends the AP malformed, out-of-order and flooding management
// frames, to show that the userspace MLME drops them and keeps serving.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/ieee80211"
	"golang.org/x/sys/unix"
)

func main() {
	iface := flag.String("iface", "wlan2", "monitor interface to inject on")
	bssidFlag := flag.String("bssid", "02:00:00:00:00:00", "the AP's BSSID")
	ssid := flag.String("ssid", "Kibitz-0000", "the AP's SSID")
	flood := flag.Int("flood", 500, "frames in each flood")
	probesFor := flag.Duration("probes-for", 0, "only send wildcard probe requests, for this long")
	forgeFor := flag.String("forge-msg2", "", "only forge EAPOL message 2s (bad MIC) for this station's handshakes")
	forgeTime := flag.Duration("forge-time", 30*time.Second, "how long -forge-msg2 watches at most")
	forgeCount := flag.Int("forge-count", 1, "-forge-msg2 stops after answering this many message 1s")
	flag.Parse()
	bssid, err := net.ParseMAC(*bssidFlag)
	if err != nil {
		log.Fatal(err)
	}
	switch {
	case *forgeFor != "":
		var sta net.HardwareAddr
		if sta, err = net.ParseMAC(*forgeFor); err == nil {
			err = forgeMsg2(*iface, bssid, sta, *forgeTime, *forgeCount)
		}
	case *probesFor > 0:
		err = probe(*iface, *probesFor)
	default:
		err = run(*iface, bssid, *ssid, *flood)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "frameinject:", err)
		os.Exit(1)
	}
}

type injector struct {
	fd   int
	addr unix.SockaddrLinklayer
	sent int
}

// radiotap is the smallest radiotap header: version 0, length 8, no fields.
var radiotap = []byte{0, 0, 8, 0, 0, 0, 0, 0}

func (in *injector) send(frame []byte) error {
	if err := unix.Sendto(in.fd, append(append([]byte(nil), radiotap...), frame...), 0, &in.addr); err != nil {
		return fmt.Errorf("inject %d-byte frame: %w", len(frame), err)
	}
	in.sent++
	// Pace the flood a little so the radio's queue does not just drop it.
	if in.sent%50 == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func newInjector(iface string) (*injector, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	return &injector{fd: fd, addr: unix.SockaddrLinklayer{Ifindex: ifc.Index, Protocol: htons(unix.ETH_P_ALL)}}, nil
}

// probe sends wildcard probe requests from one address for d, so that an
// AP starting meanwhile gets frames while it is still setting up.
func probe(iface string, d time.Duration) error {
	in, err := newInjector(iface)
	if err != nil {
		return err
	}
	defer unix.Close(in.fd)
	sa := net.HardwareAddr{0x02, 0, 0, 0, 0x04, 0}
	frame := ieee80211.Element(ieee80211.MgmtHeader(nil, ieee80211.FrameProbeReq, ieee80211.Broadcast, sa, ieee80211.Broadcast), ieee80211.ElemSSID, nil)
	for end := time.Now().Add(d); time.Now().Before(end); {
		if err := in.send(frame); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Printf("sent %d probe requests\n", in.sent)
	return nil
}

func run(iface string, bssid net.HardwareAddr, ssid string, flood int) error {
	in, err := newInjector(iface)
	if err != nil {
		return err
	}
	defer unix.Close(in.fd)
	rng := rand.New(rand.NewPCG(1, 2))
	sta := func(i int) net.HardwareAddr { return net.HardwareAddr{0x02, 0, 0, 0, 0x03, byte(i)} }
	randSTA := func() net.HardwareAddr {
		return net.HardwareAddr{0x02, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
	}
	hdr := func(ft uint16, sa net.HardwareAddr) []byte { return ieee80211.MgmtHeader(nil, ft, bssid, sa, bssid) }
	le16 := func(b []byte, v ...uint16) []byte {
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, x)
		}
		return b
	}
	assocBody := func(ssid string, rates []byte) []byte {
		b := le16(nil, 0x0001, 10)
		b = ieee80211.Element(b, ieee80211.ElemSSID, []byte(ssid))
		return ieee80211.Element(b, ieee80211.ElemRates, rates)
	}
	frames := [][]byte{
		hdr(ieee80211.FrameAuth, sta(1))[:20],                                                 // truncated header
		append(hdr(ieee80211.FrameAuth, sta(1)), 0, 0, 1),                                     // truncated auth body
		le16(hdr(ieee80211.FrameAuth, sta(2)), 1, 1, 0),                                       // shared key auth: refused
		le16(hdr(ieee80211.FrameAuth, sta(2)), 0, 3, 0),                                       // wrong sequence number
		append(hdr(ieee80211.FrameAssocReq, sta(3)), assocBody(ssid, []byte{0x82})...),        // assoc without auth
		le16(hdr(ieee80211.FrameAuth, sta(4)), 0, 1, 0),                                       // auth, then broken assocs
		append(hdr(ieee80211.FrameAssocReq, sta(4)), 1, 0),                                    // truncated assoc
		append(hdr(ieee80211.FrameAssocReq, sta(4)), assocBody("other", []byte{0x82})...),     // wrong SSID
		append(hdr(ieee80211.FrameAssocReq, sta(4)), append(le16(nil, 1, 10), 0, 40, 'x')...), // truncated element
		append(hdr(ieee80211.FrameReassocReq, sta(4)), le16(nil, 1, 10)...),                   // reassoc without current AP
		append(hdr(ieee80211.FrameProbeReq, sta(5)), 0, 200),                                  // probe with truncated SSID
		hdr(ieee80211.FrameDeauth, sta(6)),                                                    // deauth of an unknown station, no reason
		{0x08, 0x00},                                                                          // a 2-byte data frame
	}
	refused := 0
	for _, f := range frames {
		// mac80211 itself refuses frames shorter than a header; those
		// never reach the air, which is fine.
		if err := in.send(f); errors.Is(err, unix.EINVAL) {
			refused++
		} else if err != nil {
			return err
		}
	}
	// Floods: wildcard probes and authentications from random addresses
	// (the AP's table of pending stations must stay bounded), and garbage.
	for range flood {
		b := ieee80211.Element(hdr(ieee80211.FrameProbeReq, randSTA()), ieee80211.ElemSSID, nil)
		if err := in.send(b); err != nil {
			return err
		}
	}
	for range flood {
		if err := in.send(le16(hdr(ieee80211.FrameAuth, randSTA()), 0, 1, 0)); err != nil {
			return err
		}
	}
	for range flood {
		b := hdr(ieee80211.FrameAssocReq, randSTA())
		junk := make([]byte, rng.IntN(64))
		for i := range junk {
			junk[i] = byte(rng.IntN(256))
		}
		if err := in.send(append(b, junk...)); err != nil {
			return err
		}
	}
	fmt.Printf("injected %d frames (%d refused by the kernel)\n", in.sent, refused)
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
