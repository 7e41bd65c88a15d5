package hotspot_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/kibitzbox/kibitzbox/internal/dhcpd"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// TestDHCPFloodFromAGuest is issue 13's DHCP attack: a guest in its own
// namespace sends 300 DISCOVERs and REQUESTs with random client
// identifiers (from its own MAC and from made-up ones), each REQUEST for
// another pool address; then a real udhcpc guest still gets a lease. The
// box's AP is a bridge with one port per guest, so both share the link as
// stations of one Wi-Fi do; the server knows which MACs are associated.
func TestDHCPFloodFromAGuest(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireProgram(t, "busybox")
	box, guest, attacker := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	box.IP("link", "add", "ap0", "type", "bridge")
	box.IP("link", "set", "ap0", "up")
	netnstest.Veth(t, box, "p-guest", guest, "sta0")
	netnstest.Veth(t, box, "p-att", attacker, "sta0")
	for _, p := range []string{"p-guest", "p-att"} {
		box.IP("link", "set", p, "master", "ap0")
	}
	box.AddAddr("ap0", "10.42.0.1/24")
	const guestMAC, attackerMAC = "02:00:00:00:aa:01", "02:00:00:00:66:01"
	guest.IP("link", "set", "sta0", "address", guestMAC)
	attacker.IP("link", "set", "sta0", "address", attackerMAC)
	// The attacker has a static address outside the pool to send from.
	attacker.AddAddr("sta0", "10.42.0.254/24")

	associated := map[string]bool{guestMAC: true, attackerMAC: true}
	leaseFile := filepath.Join(t.TempDir(), "leases.json")
	srv, err := dhcpd.New(dhcpd.Config{
		Interface: "ap0", ServerIP: netip.MustParseAddr("10.42.0.1"), Prefix: netip.MustParsePrefix("10.42.0.0/24"),
		PoolStart: netip.MustParseAddr("10.42.0.10"), PoolEnd: netip.MustParseAddr("10.42.0.250"),
		LeaseFile:  leaseFile,
		Associated: func(m net.HardwareAddr) bool { return associated[m.String()] },
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	box.Serve(t, "dhcpd", srv.Run)

	// The flood: 300 messages, every second one from a made-up MAC.
	sent := 0
	err = attacker.Do(func() error {
		c, err := net.ListenPacket("udp4", "10.42.0.254:68")
		if err != nil {
			return err
		}
		defer c.Close()
		rng := rand.New(rand.NewPCG(13, 4))
		own, _ := net.ParseMAC(attackerMAC)
		for i := range 300 {
			hw := own
			if i%2 == 1 {
				hw = net.HardwareAddr{0x02, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
			}
			id := make([]byte, 9)
			for j := range id {
				id[j] = byte(rng.IntN(256))
			}
			typ := dhcpv4.MessageTypeRequest
			if i%3 == 0 {
				typ = dhcpv4.MessageTypeDiscover
			}
			m, err := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(typ), dhcpv4.WithBroadcast(true),
				dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id)),
				dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 42, 0, 1))),
				dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 42, 0, byte(10+i%241)))))
			if err != nil {
				return err
			}
			if _, err := c.WriteTo(m.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: 67}); err != nil {
				return err
			}
			sent++
			if sent%50 == 0 {
				time.Sleep(20 * time.Millisecond) // bursts of 50, so the socket buffer holds them
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("flood after %d messages: %v", sent, err)
	}
	// UDP may drop part of a burst on a loaded machine, so wait until the
	// server's counters stop moving, then require that most of the flood
	// arrived (or the test would prove nothing).
	seen := func() uint64 {
		st := srv.Stats()
		return st.Discovers + st.Requests + st.Drops["not_associated"]
	}
	last := seen()
	for range 50 {
		time.Sleep(200 * time.Millisecond)
		n := seen()
		if n == last && n > 0 {
			break
		}
		last = n
	}
	st := srv.Stats()
	t.Logf("after the flood: %+v, %d leases", st, len(srv.Leases()))
	if last < 150 {
		t.Fatalf("the server saw %d of the 300 messages; too few to judge", last)
	}
	if l := srv.Leases(); len(l) > 1 {
		t.Errorf("the attacker holds %d leases, want at most 1 (one binding per MAC): %+v", len(l), l)
	}
	if st.Acks > 1 || st.Drops["not_associated"] == 0 {
		t.Errorf("the flood got %d ACKs, %d not-associated drops; want at most one ACK (its own MAC) and the made-up MACs dropped", st.Acks, st.Drops["not_associated"])
	}

	// A real guest still gets a lease.
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip\" > \"$OUT/ip\"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := guest.Command(ctx, "busybox", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-A", "1", "-i", "sta0", "-s", script)
	cmd.Env = append(os.Environ(), "OUT="+dir)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("udhcpc after the flood: %v\n%s", err, log.String())
	}
	ipText, _ := os.ReadFile(filepath.Join(dir, "ip"))
	ip, err := netip.ParseAddr(strings.TrimSpace(string(ipText)))
	if err != nil || !netip.MustParsePrefix("10.42.0.0/24").Contains(ip) {
		t.Fatalf("udhcpc bound %q", ipText)
	}
	found := false
	for _, l := range srv.Leases() {
		found = found || l.MAC == guestMAC && l.IP == ip.String()
	}
	if !found {
		t.Errorf("server leases %+v lack the guest's %s", srv.Leases(), ip)
	}
	t.Logf("the guest got %s after the flood; lease file written %d times", ip, srv.Stats().LeaseFileWrites)
}
