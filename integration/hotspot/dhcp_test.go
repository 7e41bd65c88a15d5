package hotspot_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"github.com/kibitzbox/kibitzbox/internal/dhcpd"
	"github.com/kibitzbox/kibitzbox/internal/dnsd"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

const portalURL = "https://10.42.0.1/captive"

// topology is the box (srv) with the AP link to a phone namespace (sta)
// and a second link (up0) to another namespace (wan) that must get no DHCP.
type topology struct {
	srv, sta, wan *netnstest.NS
	leaseFile     string
}

func newTopology(t *testing.T) *topology {
	tp := &topology{srv: netnstest.New(t), sta: netnstest.New(t), wan: netnstest.New(t)}
	netnstest.Veth(t, tp.srv, "ap0", tp.sta, "sta0")
	netnstest.Veth(t, tp.srv, "up0", tp.wan, "wan0")
	tp.srv.AddAddr("ap0", "10.42.0.1/24")
	tp.srv.AddAddr("up0", "192.168.77.1/24")
	tp.leaseFile = filepath.Join(t.TempDir(), "leases.json")
	return tp
}

func (tp *topology) startDHCP(t *testing.T) (*dhcpd.Server, func()) {
	s, err := dhcpd.New(dhcpd.Config{
		Interface:        "ap0",
		ServerIP:         netip.MustParseAddr("10.42.0.1"),
		Prefix:           netip.MustParsePrefix("10.42.0.0/24"),
		PoolStart:        netip.MustParseAddr("10.42.0.10"),
		PoolEnd:          netip.MustParseAddr("10.42.0.250"),
		LeaseTime:        2 * time.Hour,
		CaptivePortalURL: portalURL,
		LeaseFile:        tp.leaseFile,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatalf("dhcpd.New: %v", err)
	}
	return s, tp.srv.Serve(t, "dhcpd", s.Run)
}

// testWriter sends server logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newNclient opens insomniacslk's nclient4 (raw sockets, in this process)
// inside ns on ifname.
func newNclient(ns *netnstest.NS, ifname string, timeout time.Duration, retries int) (*nclient4.Client, error) {
	var c *nclient4.Client
	err := ns.Do(func() (err error) {
		c, err = nclient4.New(ifname, nclient4.WithTimeout(timeout), nclient4.WithRetry(retries))
		return err
	})
	return c, err
}

// nclientLease runs one DORA exchange with nclient4.
func nclientLease(ns *netnstest.NS, ifname string, timeout time.Duration, retries int) (*nclient4.Lease, error) {
	c, err := newNclient(ns, ifname, timeout, retries)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Request(ctx, dhcpv4.WithRequestedOptions(dhcpv4.GenericOptionCode(114)))
}

func hasLease(s *dhcpd.Server, mac string) (string, bool) {
	for _, l := range s.Leases() {
		if l.MAC == mac {
			return l.IP, true
		}
	}
	return "", false
}

// eventually polls cond for up to 10 s.
func eventually(cond func() bool) bool {
	for range 100 {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

// TestRealClients runs our DHCP server in one namespace and real clients in
// another: nclient4, busybox udhcpc and ISC dhclient each get a lease with
// router, DNS and option 114; the DNS they were given answers dig; a second
// interface gets nothing; bad packets do not stop the server; leases
// survive a restart.
func TestRealClients(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireProgram(t, "busybox", "dhclient", "dig")
	tp := newTopology(t)
	srv, stopDHCP := tp.startDHCP(t)
	dns, err := dnsd.New(dnsd.Config{Addr: "10.42.0.1:53", Answer: netip.MustParseAddr("10.42.0.1"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tp.srv.Serve(t, "dnsd", dns.Run)

	var nclientIP string
	t.Run("nclient4", func(t *testing.T) {
		tp.sta.IP("link", "set", "sta0", "address", "02:00:00:00:aa:01")
		l, err := nclientLease(tp.sta, "sta0", 2*time.Second, 3)
		if err != nil {
			t.Fatalf("nclient4: %v", err)
		}
		ack := l.ACK
		nclientIP = ack.YourIPAddr.String()
		if got := string(ack.GetOneOption(dhcpv4.GenericOptionCode(114))); got != portalURL {
			t.Errorf("option 114 %q, want %q", got, portalURL)
		}
		if r := ack.Router(); len(r) != 1 || r[0].String() != "10.42.0.1" {
			t.Errorf("router %v", r)
		}
		if d := ack.DNS(); len(d) != 1 || d[0].String() != "10.42.0.1" {
			t.Errorf("DNS %v", d)
		}
		if ip, ok := hasLease(srv, "02:00:00:00:aa:01"); !ok || ip != nclientIP {
			t.Errorf("server leases %+v lack %s at %s", srv.Leases(), "02:00:00:00:aa:01", nclientIP)
		}
	})

	var dnsServer string
	t.Run("udhcpc", func(t *testing.T) {
		mac := "02:00:00:00:aa:02"
		tp.sta.IP("link", "set", "sta0", "address", mac)
		dir := t.TempDir()
		script := filepath.Join(dir, "script")
		// udhcpc calls the script with the event as $1 and the lease in
		// its environment; on "bound" it configures the address like a
		// phone would.
		err := os.WriteFile(script, []byte(`#!/bin/sh
env > "$OUT/$1.env"
if [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; fi
exit 0
`), 0o755)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Without -q: busybox 1.35 sends the -R release only when it is
		// stopped while bound, so stop it with SIGTERM once it has bound.
		cmd := tp.sta.Command(ctx, "busybox", "udhcpc", "-f", "-R", "-t", "5", "-T", "1", "-A", "1",
			"-i", "sta0", "-O", "114", "-s", script)
		cmd.Env = append(os.Environ(), "OUT="+dir)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		envFile := filepath.Join(dir, "bound.env")
		bound := eventually(func() bool { _, err := os.Stat(envFile); return err == nil })
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		t.Logf("udhcpc output:\n%s", log.String())
		if !bound {
			t.Fatal("udhcpc never bound")
		}
		env, err := os.ReadFile(envFile)
		if err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for _, line := range strings.Split(string(env), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				vars[k] = v
			}
		}
		t.Logf("udhcpc bound: ip=%s router=%s dns=%s lease=%s opt114=%s", vars["ip"], vars["router"], vars["dns"], vars["lease"], vars["opt114"])
		if want := hex.EncodeToString([]byte(portalURL)); vars["opt114"] != want {
			t.Errorf("udhcpc opt114 %q, want %q (%s)", vars["opt114"], want, portalURL)
		}
		if vars["router"] != "10.42.0.1" || strings.TrimSpace(vars["dns"]) != "10.42.0.1" || vars["lease"] != "7200" || vars["mask"] != "24" {
			t.Errorf("udhcpc lease %v", vars)
		}
		ip, err := netip.ParseAddr(vars["ip"])
		if err != nil || ip.Compare(netip.MustParseAddr("10.42.0.10")) < 0 || ip.Compare(netip.MustParseAddr("10.42.0.250")) > 0 {
			t.Errorf("udhcpc got %q, outside the pool", vars["ip"])
		}
		if ip.String() == nclientIP {
			t.Errorf("udhcpc got %s, which nclient4 holds", ip)
		}
		// -R released the lease on exit.
		if !eventually(func() bool { _, ok := hasLease(srv, mac); return !ok }) {
			t.Errorf("udhcpc's RELEASE did not end its lease: %+v", srv.Leases())
		}
		dnsServer = strings.TrimSpace(vars["dns"])
	})

	t.Run("dig via the leased DNS", func(t *testing.T) {
		if dnsServer == "" {
			t.Fatal("no DNS server from udhcpc")
		}
		out, err := tp.sta.Run(15*time.Second, "dig", "@"+dnsServer, "+short", "+time=2", "+tries=2", "connectivitycheck.gstatic.com", "A")
		if err != nil || strings.TrimSpace(out) != "10.42.0.1" {
			t.Fatalf("dig: %v: %q, want 10.42.0.1", err, out)
		}
	})

	t.Run("dhclient", func(t *testing.T) {
		mac := "02:00:00:00:aa:03"
		tp.sta.IP("link", "set", "sta0", "address", mac)
		dir := t.TempDir()
		conf := filepath.Join(dir, "dhclient.conf")
		lf := filepath.Join(dir, "dhclient.leases")
		pf := filepath.Join(dir, "dhclient.pid")
		if err := os.WriteFile(conf, []byte("request subnet-mask, routers, domain-name-servers, dhcp-lease-time, v4-captive-portal;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Debian ships an AppArmor profile for /usr/sbin/dhclient that
		// forbids our temp files and script; a copy at another path is
		// not confined, wherever AppArmor is enforcing.
		dhclient := filepath.Join(dir, "dhclient")
		if err := copyFile(testenv.RequireProgram(t, "dhclient")[0], dhclient); err != nil {
			t.Fatal(err)
		}
		args := []string{"-4", "-v", "-cf", conf, "-lf", lf, "-pf", pf, "-sf", "/bin/true"}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := tp.sta.Command(ctx, dhclient, append(append([]string{"-d", "-1"}, args...), "sta0")...)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var lease string
		ok := false
		for range 300 {
			b, _ := os.ReadFile(lf)
			lease = string(b)
			if strings.Contains(lease, "}") {
				ok = true
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !ok {
			cancel()
			<-exited
			t.Fatalf("dhclient wrote no lease:\n%s\n%s", lease, log.String())
		}
		t.Logf("dhclient lease file:\n%s", lease)
		for _, want := range []string{
			"option routers 10.42.0.1;",
			"option domain-name-servers 10.42.0.1;",
			"option dhcp-lease-time 7200;",
			"option dhcp-server-identifier 10.42.0.1;",
		} {
			if !strings.Contains(lease, want) {
				t.Errorf("dhclient lease lacks %q", want)
			}
		}
		// dhclient 4.4 knows code 114 as both default-url and
		// v4-captive-portal and writes whichever name it finds first.
		if !strings.Contains(lease, fmt.Sprintf(" default-url %q;", portalURL)) && !strings.Contains(lease, fmt.Sprintf(" v4-captive-portal %q;", portalURL)) {
			t.Errorf("dhclient lease lacks option 114 = %q", portalURL)
		}
		ip, ok := hasLease(srv, mac)
		if !ok || !strings.Contains(lease, "fixed-address "+ip+";") {
			t.Errorf("server lease %q for %s does not match dhclient's", ip, mac)
		}
		// dhclient -r releases the lease and stops the running client.
		if out, err := tp.sta.Run(30*time.Second, dhclient, append(append([]string{"-r"}, args...), "sta0")...); err != nil {
			t.Errorf("dhclient -r: %v\n%s", err, out)
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
			t.Error("dhclient -r did not stop the client")
		}
		if !eventually(func() bool { _, ok := hasLease(srv, mac); return !ok }) {
			t.Errorf("dhclient's RELEASE did not end its lease: %+v", srv.Leases())
		}
	})

	t.Run("no DHCP on another interface", func(t *testing.T) {
		before := srv.Stats().Discovers
		if l, err := nclientLease(tp.wan, "wan0", time.Second, 2); err == nil {
			t.Fatalf("a client on up0 got a lease: %v", l.ACK.Summary())
		}
		if after := srv.Stats().Discovers; after != before {
			t.Fatalf("the server saw %d DISCOVERs from up0; it must listen on ap0 only", after-before)
		}
	})

	t.Run("bad packets", func(t *testing.T) {
		// sta0 has udhcpc's address, so it can send unicast to the server.
		disc, _ := dhcpv4.NewDiscovery(net.HardwareAddr{2, 0, 0, 0, 0xaa, 4})
		good := disc.ToBytes()
		err := tp.sta.Do(func() error {
			c, err := net.Dial("udp4", "10.42.0.1:67")
			if err != nil {
				return err
			}
			defer c.Close()
			for _, p := range [][]byte{good[:10], good[:239], {0xff}, []byte(strings.Repeat("junk", 100))} {
				if _, err := c.Write(p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("send bad packets: %v", err)
		}
		if !eventually(func() bool { return srv.Stats().Drops["malformed"] >= 4 }) {
			t.Fatalf("malformed drops %v, want 4", srv.Stats().Drops)
		}
		tp.sta.IP("link", "set", "sta0", "address", "02:00:00:00:aa:01")
		l, err := nclientLease(tp.sta, "sta0", 2*time.Second, 3)
		if err != nil {
			t.Fatalf("no lease after bad packets: %v", err)
		}
		if got := l.ACK.YourIPAddr.String(); got != nclientIP {
			t.Errorf("nclient4's MAC got %s, want its sticky %s", got, nclientIP)
		}
	})

	t.Run("renewal is answered by unicast", func(t *testing.T) {
		tp.sta.IP("link", "set", "sta0", "address", "02:00:00:00:aa:06")
		c, err := newNclient(tp.sta, "sta0", 2*time.Second, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		l, err := c.Request(ctx)
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		// Like a phone, configure the address: the server's unicast ACK
		// needs an ARP answer from it.
		ip := l.ACK.YourIPAddr.String()
		tp.sta.AddAddr("sta0", ip+"/24")
		acks := srv.Stats().Acks
		l2, err := c.Renew(ctx, l)
		if err != nil {
			t.Fatalf("renew: %v", err)
		}
		if got := l2.ACK.YourIPAddr.String(); got != ip || l2.ACK.IPAddressLeaseTime(0) != 2*time.Hour {
			t.Fatalf("renewal ACK %s, want %s for 2h", l2.ACK.Summary(), ip)
		}
		if srv.Stats().Acks != acks+1 {
			t.Fatalf("server counted %d ACKs for one renewal", srv.Stats().Acks-acks)
		}
	})

	t.Run("leases survive a restart", func(t *testing.T) {
		before := srv.Leases()
		stopDHCP()
		srv2, _ := tp.startDHCP(t)
		after := srv2.Leases()
		if len(after) != len(before) || len(after) == 0 {
			t.Fatalf("leases before restart %+v, after %+v", before, after)
		}
		for i := range after {
			if after[i].MAC != before[i].MAC || after[i].IP != before[i].IP {
				t.Fatalf("lease %d changed across restart: %+v -> %+v", i, before[i], after[i])
			}
		}
		tp.sta.IP("link", "set", "sta0", "address", "02:00:00:00:aa:05")
		l, err := nclientLease(tp.sta, "sta0", 2*time.Second, 3)
		if err != nil {
			t.Fatalf("new client after restart: %v", err)
		}
		for _, b := range before {
			if b.IP == l.ACK.YourIPAddr.String() {
				t.Fatalf("after restart a new client got %s, still leased to %s", b.IP, b.MAC)
			}
		}
	})
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}
