package hotspot_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/guestguard"
	"github.com/kibitzbox/kibitzbox/internal/hotspot"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/settings"
)

// TestEthernetMode checks issue 15's Ethernet mode with the real guard
// (nftables) and the real hub binary: the box (ap0 = 10.42.0.1, eth0 =
// 192.168.77.1) and a client on the venue LAN (192.168.77.2). With the
// guests source "ethernet" in the settings file the client loads the call
// app over HTTPS and gets a hub session, and the hub advertises the LAN
// address first (the app URL, which is the call QR, carries it). With
// "wifi" (the default) the same client gets neither while the box itself
// still does, so it is the guard that keeps the LAN out.
func TestEthernetMode(t *testing.T) {
	netnstest.Require(t)
	hubBin := filepath.Join(t.TempDir(), "hub")
	if out, err := exec.Command("go", "build", "-o", hubBin, "github.com/kibitzbox/kibitzbox/cmd/hub").CombinedOutput(); err != nil {
		t.Fatalf("building the hub: %v\n%s", err, out)
	}
	box, guest, lan := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, box, "ap0", guest, "sta0")
	netnstest.Veth(t, box, "eth0", lan, "lan0")
	box.AddAddr("ap0", "10.42.0.1/24")
	box.AddAddr("eth0", "192.168.77.1/24")
	guest.AddAddr("sta0", "10.42.0.10/24")
	lan.AddAddr("lan0", "192.168.77.2/24")
	guestMAC := guest.MAC("sta0")
	// A stand-in for the box's DNS port (TCP, answering "ok"): it stays
	// closed to the venue LAN in every mode.
	serveOK(t, box, ":53")
	netns := box.FD(t)

	for _, mode := range []struct {
		source  string
		lanIn   bool   // the venue LAN gets the app and a hub session
		appHost string // the host of the app URL (the call QR)
	}{
		{settings.SourceEthernet, true, "192.168.77.1"},
		{settings.SourceWiFi, false, "10.42.0.1"},
	} {
		t.Run(mode.source, func(t *testing.T) {
			state := t.TempDir()
			guests := settings.Guests{Source: mode.source, VenueSSID: "Cafe Venue", VenuePassphrase: "espresso-42"}
			if err := settings.Save(settings.Path(state), settings.Settings{Guests: &guests}); err != nil {
				t.Fatal(err)
			}
			// What the hotspot installs for these settings.
			ifaces := hotspot.GuestInterfaces("eth0", guests)
			g, err := guestguard.Install(guestguard.Config{Interface: "ap0", GuestIfaces: ifaces, NetNS: netns})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { guestguard.Remove(netns) })
			if err := g.SetLeases([]guestguard.Lease{{MAC: guestMAC, IP: netip.MustParseAddr("10.42.0.10")}}); err != nil {
				t.Fatal(err)
			}

			blob, appURL := startHub(t, box, hubBin, state)
			if !strings.HasPrefix(appURL, "https://"+mode.appHost+"/") {
				t.Errorf("app URL (call QR) %q, want host %s", appURL, mode.appHost)
			}
			b, err := galaxy.ParseBlob(blob)
			if err != nil {
				t.Fatal(err)
			}
			var lanEP bool
			for _, ep := range b.Endpoints {
				lanEP = lanEP || ep.Addr == "192.168.77.1"
			}
			if lanEP != mode.lanIn {
				t.Errorf("blob endpoints %v: LAN address advertised = %v, want %v", b.Endpoints, lanEP, mode.lanIn)
			}
			// Dial the hub at its LAN address in both modes: the guard,
			// not the blob, must keep Wi-Fi-only mode's LAN client out.
			b.Endpoints = []galaxy.Endpoint{{Addr: "192.168.77.1", Port: 4711}}
			lanBlob := b.String()
			b.Endpoints = []galaxy.Endpoint{{Addr: "10.42.0.1", Port: 4711}}
			wifiBlob := b.String()

			// The box itself and a Wi-Fi guest always get both.
			if err := fetchApp(box, "127.0.0.1:443"); err != nil {
				t.Fatalf("the app from the box itself: %v", err)
			}
			if err := fetchApp(guest, "10.42.0.1:443"); err != nil {
				t.Errorf("the app from a Wi-Fi guest: %v", err)
			}
			if err := hubSession(guest, wifiBlob); err != nil {
				t.Errorf("a hub session from a Wi-Fi guest: %v", err)
			}

			err = fetchApp(lan, "192.168.77.1:443")
			switch {
			case mode.lanIn && err != nil:
				t.Errorf("the app from the venue LAN: %v, want it served", err)
			case !mode.lanIn && err == nil:
				t.Errorf("the app was served to the venue LAN in Wi-Fi-only mode")
			case !mode.lanIn && !isTimeout(err):
				t.Errorf("the app from the venue LAN failed with %v, want a timeout (dropped)", err)
			}
			err = hubSession(lan, lanBlob)
			switch {
			case mode.lanIn && err != nil:
				t.Errorf("a hub session from the venue LAN: %v, want one", err)
			case !mode.lanIn && err == nil:
				t.Errorf("the venue LAN got a hub session in Wi-Fi-only mode")
			}
			if err := dialFrom(lan, "", "192.168.77.1:53"); err == nil || !isTimeout(err) {
				t.Errorf("port 53 from the venue LAN: %v, want a timeout (the box's DNS stays Wi-Fi only)", err)
			}
			if err := dialFrom(guest, "10.42.0.10", "10.42.0.1:53"); err != nil {
				t.Errorf("port 53 from a Wi-Fi guest: %v", err)
			}
			if !mode.lanIn {
				return
			}
			// The operator switches back to Wi-Fi only: the hotspot's
			// reload narrows the running guard (SetGuestIfaces) and the
			// guests' leases stay in force.
			if err := g.SetGuestIfaces(hotspot.GuestInterfaces("eth0", settings.Guests{Source: settings.SourceWiFi})); err != nil {
				t.Fatal(err)
			}
			if err := fetchApp(lan, "192.168.77.1:443"); err == nil || !isTimeout(err) {
				t.Errorf("after switching to Wi-Fi only, the app from the venue LAN: %v, want a timeout (dropped)", err)
			}
			if err := fetchApp(guest, "10.42.0.1:443"); err != nil {
				t.Errorf("after switching to Wi-Fi only, the app from a Wi-Fi guest: %v", err)
			}
			if err := g.SetGuestIfaces(ifaces); err != nil {
				t.Fatal(err)
			}
			if err := fetchApp(lan, "192.168.77.1:443"); err != nil {
				t.Errorf("after switching back to Ethernet, the app from the venue LAN: %v", err)
			}
		})
	}
}

// startHub runs the hub binary in ns with the box's flags and state, and
// returns the blob and app URL from its banner.
func startHub(t *testing.T, ns *netnstest.NS, bin, state string) (blob, appURL string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := ns.Command(ctx, bin, "--state="+state, "--advertise=10.42.0.1", "--port=4711", "--turn-port=3478",
		"--https=:443", "--http=:80", "--status=127.0.0.1:8079", "--hotspot-status=127.0.0.1:1",
		"--lan-iface=eth0", "--lan-wait=5s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("hub log:\n%s", stderr.String())
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	timeout := time.After(30 * time.Second)
	for blob == "" || appURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the hub exited before printing its banner:\n%s", stderr.String())
			}
			if v, ok := strings.CutPrefix(l, "BLOB  "); ok {
				blob = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "APP   "); ok {
				appURL = strings.TrimSpace(v)
			}
		case <-timeout:
			t.Fatalf("no banner from the hub within 30 s:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return blob, appURL
}

// fetchApp loads the call app's page over HTTPS at addr from ns. The
// connection is made inside ns; the request runs over it.
func fetchApp(ns *netnstest.NS, addr string) error {
	var conn net.Conn
	if err := ns.Do(func() (err error) {
		conn, err = (&net.Dialer{Timeout: 2 * time.Second}).Dial("tcp4", addr)
		return err
	}); err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}) // the hub's self-signed certificate
	host, _, _ := net.SplitHostPort(addr)
	if _, err := fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<html") {
		return fmt.Errorf("GET https://%s/: %s, %d bytes, want the app page", addr, resp.Status, len(body))
	}
	return nil
}

// hubSession dials the hub described by blob from ns and asks it for an
// echo: a working session.
func hubSession(ns *netnstest.NS, blob string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var c *hubclient.Client
	if err := ns.Do(func() (err error) { c, err = hubclient.Dial(ctx, blob); return err }); err != nil {
		return err
	}
	defer c.Close()
	_, err := c.Echo(ctx, "ethernet mode")
	return err
}
