package hotspot_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/guestguard"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
)

// TestGuestGuard builds the box (AP interface ap0 = 10.42.0.1, Ethernet
// eth0 = 192.168.77.1 towards a venue LAN namespace) and a guest on ap0,
// and checks issue 13 items 3 and 5: a guest's packets pass only from its
// leased address, guest services answer on the AP and loopback but not on
// the Ethernet, nothing is forwarded between the two, and forwarding is off.
func TestGuestGuard(t *testing.T) {
	box, guest, lan := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, box, "ap0", guest, "sta0")
	netnstest.Veth(t, box, "eth0", lan, "lan0")
	box.AddAddr("ap0", "10.42.0.1/24")
	box.AddAddr("eth0", "192.168.77.1/24")
	guest.AddAddr("sta0", "10.42.0.10/24")
	guest.AddAddr("sta0", "10.42.0.99/24") // the spoofed source
	guest.IP("route", "add", "192.168.77.0/24", "via", "10.42.0.1")
	lan.AddAddr("lan0", "192.168.77.2/24")
	lan.IP("route", "add", "10.42.0.0/24", "via", "192.168.77.1")
	// The lab starts with forwarding on, so that the forward rule is seen
	// to work on its own.
	box.Do(func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) })

	// Listeners: the hub's port (a guest service) and 22 (not one).
	serveOK(t, box, ":4711")
	serveOK(t, box, ":22")
	serveOK(t, lan, ":9000")
	guestMAC := guest.MAC("sta0")
	netns := box.FD(t)

	type check struct {
		from      *netnstest.NS
		src, addr string
		reach     bool
	}
	run := func(step string, checks []check) {
		t.Helper()
		for _, c := range checks {
			err := dialFrom(c.from, c.src, c.addr)
			switch {
			case c.reach && err != nil:
				t.Errorf("%s: %s from %s (%s): %v, want reachable", step, c.addr, c.from.Name, c.src, err)
			case !c.reach && err == nil:
				t.Errorf("%s: %s reachable from %s (%s), want dropped", step, c.addr, c.from.Name, c.src)
			case !c.reach && !isTimeout(err):
				t.Errorf("%s: %s from %s (%s) failed with %v, want a timeout (dropped)", step, c.addr, c.from.Name, c.src, err)
			}
		}
	}
	// Without the guard everything gets through: the lab can fail.
	run("no guard", []check{
		{guest, "10.42.0.10", "10.42.0.1:4711", true},
		{guest, "10.42.0.99", "10.42.0.1:4711", true},
		{lan, "", "192.168.77.1:4711", true},
		{guest, "10.42.0.10", "192.168.77.2:9000", true},
	})

	g, err := guestguard.Install(guestguard.Config{Interface: "ap0", NetNS: netns})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetLeases([]guestguard.Lease{{MAC: guestMAC, IP: netip.MustParseAddr("10.42.0.10")}}); err != nil {
		t.Fatal(err)
	}
	run("guard", []check{
		{guest, "10.42.0.10", "10.42.0.1:4711", true},     // the leased source passes
		{guest, "10.42.0.99", "10.42.0.1:4711", false},    // a spoofed one does not
		{guest, "10.42.0.10", "192.168.77.1:4711", true},  // the box's other address, via the AP
		{lan, "", "192.168.77.1:4711", false},             // the hub is closed to the venue LAN
		{lan, "", "192.168.77.1:22", true},                // other services stay on Ethernet
		{box, "", "127.0.0.1:4711", true},                 // the box itself
		{guest, "10.42.0.10", "192.168.77.2:9000", false}, // no forwarding wlan -> eth
	})

	// A lease moves: the old pairing stops, the new one passes.
	if err := g.SetLeases([]guestguard.Lease{{MAC: guestMAC, IP: netip.MustParseAddr("10.42.0.99")}}); err != nil {
		t.Fatal(err)
	}
	run("lease moved", []check{
		{guest, "10.42.0.99", "10.42.0.1:4711", true},
		{guest, "10.42.0.10", "10.42.0.1:4711", false},
	})

	if err := box.Do(func() error { return guestguard.DisableForwarding("/proc") }); err != nil {
		t.Fatal(err)
	}
	var fwd []byte
	box.Do(func() (err error) { fwd, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward"); return err })
	if strings.TrimSpace(string(fwd)) != "0" {
		t.Errorf("ip_forward = %q after DisableForwarding", fwd)
	}
	if err := guestguard.Remove(netns); err != nil {
		t.Fatal(err)
	}
	run("removed", []check{{guest, "10.42.0.99", "10.42.0.1:4711", true}, {lan, "", "192.168.77.1:4711", true}})
}

// serveOK listens on TCP addr inside ns until the test ends and answers
// every connection with "ok" (what dialFrom expects).
func serveOK(t *testing.T, ns *netnstest.NS, addr string) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
}

// dialFrom connects from ns (from source address src, if set) and reads
// the listener's "ok".
func dialFrom(ns *netnstest.NS, src, addr string) error {
	return ns.Do(func() error {
		d := net.Dialer{Timeout: 700 * time.Millisecond}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
			return fmt.Errorf("reading from %s: %q, %v", addr, buf, err)
		}
		return nil
	})
}

// TestGuestGuardNoRouter checks the hotspot's first step (issue 13: the box
// is never a router): EnforceNoRouter turns forwarding off and installs an
// nftables forward drop that holds on its own, and CheckNoRouter (what the
// hotspot's status publishes) reads both back from the kernel, and says so
// when either is missing.
func TestGuestGuardNoRouter(t *testing.T) {
	box, guest, lan := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, box, "wlan0", guest, "sta0")
	netnstest.Veth(t, box, "eth0", lan, "lan0")
	box.AddAddr("wlan0", "10.42.0.1/24")
	box.AddAddr("eth0", "192.168.77.1/24")
	guest.AddAddr("sta0", "10.42.0.10/24")
	guest.IP("route", "add", "192.168.77.0/24", "via", "10.42.0.1")
	lan.AddAddr("lan0", "192.168.77.2/24")
	lan.IP("route", "add", "10.42.0.0/24", "via", "192.168.77.1")
	setForwarding := func(v string) {
		t.Helper()
		if err := box.Do(func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(v), 0o644) }); err != nil {
			t.Fatal(err)
		}
	}
	serveOK(t, lan, ":9000")

	netns := box.FD(t)
	check := func() guestguard.NoRouter {
		var nr guestguard.NoRouter
		box.Do(func() error { nr = guestguard.CheckNoRouter("/proc", netns); return nil })
		return nr
	}
	reach := func(step string, want bool) {
		t.Helper()
		err := dialFrom(guest, "", "192.168.77.2:9000")
		switch {
		case want && err != nil:
			t.Errorf("%s: the LAN is not reachable from the guest through the box: %v", step, err)
		case !want && err == nil:
			t.Errorf("%s: the guest reached the LAN through the box", step)
		case !want && !isTimeout(err):
			t.Errorf("%s: guest -> LAN failed with %v, want a timeout (dropped)", step, err)
		}
	}

	// A router: the lab forwards, and the read-back says so.
	setForwarding("1")
	reach("forwarding on, no rule", true)
	if nr := check(); nr.ForwardingOff || nr.ForwardDrop || nr.Err == nil {
		t.Errorf("forwarding on, no rule: CheckNoRouter = %+v, want neither in force and an error", nr)
	}

	if err := box.Do(func() error { return guestguard.EnforceNoRouter("/proc", netns) }); err != nil {
		t.Fatal(err)
	}
	nr := check()
	if !nr.ForwardingOff || !nr.ForwardDrop || nr.Err != nil {
		t.Fatalf("after EnforceNoRouter: %+v, want forwarding off and the drop in force", nr)
	}
	reach("enforced", false)

	// The rule holds on its own when something turns forwarding back on,
	// counts what it drops, and the read-back notices the switch.
	setForwarding("1")
	reach("forwarding on again, rule in place", false)
	nr = check()
	if nr.ForwardingOff || !nr.ForwardDrop || nr.Err == nil {
		t.Errorf("forwarding on, rule in place: %+v, want forwarding on reported and the drop in force", nr)
	}
	if nr.Dropped == 0 {
		t.Errorf("the forward drop counted no packets after a guest's connection attempt through it")
	}
	t.Logf("forward drop counter after the blocked attempt: %d packets", nr.Dropped)

	// Enforcing again replaces the table (it is idempotent) and fixes the switch.
	if err := box.Do(func() error { return guestguard.EnforceNoRouter("/proc", netns) }); err != nil {
		t.Fatal(err)
	}
	if nr := check(); !nr.ForwardingOff || !nr.ForwardDrop {
		t.Errorf("enforced twice: %+v", nr)
	}

	// Without the rule the read-back must say the drop is missing.
	if err := guestguard.RemoveNoRouter(netns); err != nil {
		t.Fatal(err)
	}
	setForwarding("1")
	reach("rule removed", true)
	if nr := check(); nr.ForwardDrop || nr.Err == nil || !strings.Contains(nr.Err.Error(), guestguard.NoRouterTable) {
		t.Errorf("rule removed: CheckNoRouter = %+v, want the drop reported missing", nr)
	}
}
