package hotspot_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/adminguard"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
)

// TestGuardDropsAdminPortsFromTheAP builds a box namespace (AP interface
// wlan0 = 10.42.0.1, another local address 192.168.77.1) and a guest namespace on
// the other end of wlan0, runs listeners on the admin ports and on 443 in
// the box, and dials them from the guest with and without the guard.
func TestGuardDropsAdminPortsFromTheAP(t *testing.T) {
	box := netnstest.New(t)
	guest := netnstest.New(t)
	netnstest.Veth(t, box, "wlan0", guest, "sta0")
	box.AddAddr("wlan0", "10.42.0.1/24")
	// The box's other address (the Ethernet uplink's, on a Pi) sits on lo
	// here: what matters is that it is not on wlan0.
	box.AddAddr("lo", "192.168.77.1/32")
	guest.AddAddr("sta0", "10.42.0.10/24")
	guest.IP("route", "add", "192.168.77.0/24", "via", "10.42.0.1")

	for _, port := range []int{8880, 8443, 443} {
		var l net.Listener
		if err := box.Do(func() (err error) {
			l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
			return err
		}); err != nil {
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
	netns := box.FD(t)

	reach := func(from *netnstest.NS, addr string) error {
		return from.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
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
	expect := func(step string, from *netnstest.NS, addr string, wantReach bool) {
		t.Helper()
		err := reach(from, addr)
		switch {
		case wantReach && err != nil:
			t.Errorf("%s: %s from %s: %v, want reachable", step, addr, from.Name, err)
		case !wantReach && err == nil:
			t.Errorf("%s: %s reachable from %s, want dropped", step, addr, from.Name)
		case !wantReach && !isTimeout(err):
			t.Errorf("%s: %s from %s failed with %v, want a timeout (dropped)", step, addr, from.Name, err)
		}
	}

	// Without the guard, the guest reaches the admin UI: the setup can fail.
	expect("no guard", guest, "10.42.0.1:8880", true)
	expect("no guard", guest, "192.168.77.1:8880", true)

	if err := adminguard.Install(adminguard.Config{Interface: "wlan0", NetNS: netns}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"10.42.0.1:8880", "10.42.0.1:8443", "192.168.77.1:8880"} {
		expect("guard", guest, addr, false)
	}
	expect("guard", guest, "10.42.0.1:443", true)   // the call app stays open
	expect("guard", box, "127.0.0.1:8880", true)    // the box itself
	expect("guard", box, "192.168.77.1:8880", true) // and the uplink side

	// Installing again replaces the table; an operator MAC is let through.
	mac := guest.MAC("sta0")
	if err := adminguard.Install(adminguard.Config{Interface: "wlan0", AllowMACs: []net.HardwareAddr{mac}, NetNS: netns}); err != nil {
		t.Fatal(err)
	}
	expect("operator MAC allowed", guest, "10.42.0.1:8880", true)
	other, _ := net.ParseMAC("02:00:00:00:00:01")
	if err := adminguard.Install(adminguard.Config{Interface: "wlan0", AllowMACs: []net.HardwareAddr{other}, NetNS: netns}); err != nil {
		t.Fatal(err)
	}
	expect("another MAC allowed", guest, "10.42.0.1:8880", false)

	if err := adminguard.Remove(netns); err != nil {
		t.Fatal(err)
	}
	if ok, err := adminguard.Installed(netns); err != nil || ok {
		t.Errorf("Installed after Remove = %v, %v", ok, err)
	}
	expect("removed", guest, "10.42.0.1:8880", true)
	if err := adminguard.Remove(netns); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
