package hotspot_test

// Tests of the network-namespace helpers the heavy tests build on.

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/netnstest"
)

func TestVethPairCarriesTrafficBetweenNamespaces(t *testing.T) {
	a, b := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, a, "left0", b, "right0")
	a.AddAddr("left0", "10.99.0.1/24")
	b.AddAddr("right0", "10.99.0.2/24")

	// The host namespace must not see the test's interfaces.
	if out, err := exec.Command("ip", "link", "show", "left0").CombinedOutput(); err == nil {
		t.Fatalf("left0 leaked into the host namespace: %s", out)
	}

	// A Go socket opened in a reaches a Go socket opened in b.
	var srv net.PacketConn
	if err := b.Do(func() (err error) {
		srv, err = net.ListenPacket("udp4", "10.99.0.2:4000")
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", b.Name, err)
	}
	defer srv.Close()
	var cli net.Conn
	if err := a.Do(func() (err error) {
		if _, err := net.InterfaceByName("left0"); err != nil {
			return err
		}
		cli, err = net.Dial("udp4", "10.99.0.2:4000")
		return err
	}); err != nil {
		t.Fatalf("dial from %s: %v", a.Name, err)
	}
	defer cli.Close()
	if _, err := cli.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" || !strings.HasPrefix(from.String(), "10.99.0.1:") {
		t.Fatalf("read %q from %v: %v", buf[:n], from, err)
	}

	// Programs run inside the namespace see its interfaces.
	out, err := a.Run(10*time.Second, "ip", "-4", "addr", "show", "left0")
	if err != nil || !strings.Contains(out, "10.99.0.1/24") {
		t.Fatalf("ip addr in %s: %v: %s", a.Name, err, out)
	}
}

func TestNamespacesAreDeletedAfterTest(t *testing.T) {
	netnstest.Require(t)
	var name string
	t.Run("inner", func(t *testing.T) { name = netnstest.New(t).Name })
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), name) {
		t.Fatalf("namespace %s still exists after its test ended", name)
	}
}

func TestStaleNamespacesOfDeadProcessesAreRemoved(t *testing.T) {
	netnstest.Require(t)
	// A PID above the kernel's maximum cannot be running.
	stale := netnstest.NamePrefix + "999999999-deadbeef"
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", stale).Run() })
	mine := netnstest.New(t)
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if strings.Contains(string(out), stale) {
		t.Fatalf("stale namespace %s survived New", stale)
	}
	if !strings.Contains(string(out), mine.Name) {
		t.Fatalf("own namespace %s missing", mine.Name)
	}
}
