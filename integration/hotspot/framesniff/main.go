// Command framesniff is the VM test's eavesdropper: on a monitor interface
// it counts the data frames of one BSS over the air, split into protected
// ones, EAPOL in the clear (the handshake) and other clear-text data. The
// WPA2 check wants many protected frames and no clear-text data.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	iface := flag.String("iface", "wlan3", "monitor interface")
	bssidFlag := flag.String("bssid", "02:00:00:00:00:00", "the AP's BSSID")
	seconds := flag.Int("seconds", 8, "how long to listen")
	flag.Parse()
	bssid, err := net.ParseMAC(*bssidFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "framesniff:", err)
		os.Exit(2)
	}
	c, err := sniff(*iface, bssid, time.Duration(*seconds)*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "framesniff:", err)
		os.Exit(1)
	}
	fmt.Printf("protected=%d eapol=%d clear=%d\n", c.protected, c.eapol, c.clear)
}

type counts struct{ protected, eapol, clear int }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func sniff(iface string, bssid net.HardwareAddr, d time.Duration) (counts, error) {
	var c counts
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return c, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return c, fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
		return c, fmt.Errorf("bind to %s: %w", iface, err)
	}
	tv := unix.Timeval{Usec: 200000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return c, err
	}
	buf := make([]byte, 4096)
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return c, fmt.Errorf("receive: %w", err)
		}
		classify(buf[:n], bssid, &c)
	}
	return c, nil
}

// classify counts one radiotap-framed 802.11 frame.
func classify(b []byte, bssid net.HardwareAddr, c *counts) {
	if len(b) < 4 {
		return
	}
	rt := int(binary.LittleEndian.Uint16(b[2:]))
	if rt > len(b) {
		return
	}
	f := b[rt:]
	if len(f) < 24 {
		return
	}
	fc, flags := f[0], f[1]
	if (fc>>2)&3 != 2 { // not a data frame
		return
	}
	subtype := fc >> 4
	if subtype&4 != 0 { // Null and QoS Null carry no payload
		return
	}
	toDS, fromDS := flags&1 != 0, flags&2 != 0
	var ours bool
	switch {
	case toDS && !fromDS:
		ours = bytes.Equal(f[4:10], bssid)
	case fromDS && !toDS:
		ours = bytes.Equal(f[10:16], bssid)
	}
	if !ours {
		return
	}
	if flags&0x40 != 0 {
		c.protected++
		return
	}
	hdr := 24
	if subtype&8 != 0 {
		hdr += 2 // QoS control
	}
	if len(f) < hdr {
		return // a QoS header cut short
	}
	p := f[hdr:]
	if len(p) >= 8 && p[0] == 0xaa && p[1] == 0xaa && binary.BigEndian.Uint16(p[6:]) == 0x888e {
		c.eapol++
		return
	}
	c.clear++
}
