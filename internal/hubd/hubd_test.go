package hubd

import (
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/settings"
)

func TestAdvertiseAndTURNClientFlags(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	got, err := advertiseAddrs(" 10.42.0.1, 192.168.1.5 ", log)
	if err != nil || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.42.0.1"), netip.MustParseAddr("192.168.1.5")}) {
		t.Fatalf("advertise %v %v", got, err)
	}
	for _, bad := range []string{"host.local", "::1", "10.0.0.300"} {
		if _, err := advertiseAddrs(bad, log); err == nil {
			t.Errorf("--advertise %q accepted", bad)
		}
	}
	auto, err := advertiseAddrs("", log)
	if err != nil || len(auto) == 0 {
		t.Fatalf("automatic advertise: %v %v", auto, err)
	}
	hasPrivate, hasOther := machineIPv4()
	for _, a := range auto {
		switch {
		case !a.Is4():
			t.Fatalf("advertised %v", a)
		case hasPrivate && !a.IsPrivate():
			t.Errorf("advertised %v although this machine has a private address", a)
		case (hasPrivate || hasOther) && a.IsLoopback():
			t.Errorf("advertised loopback although this machine has a network address; browsers would fail")
		}
	}
	nets, err := turnClientNets("", []netip.Addr{netip.MustParseAddr("10.99.7.1")})
	if err != nil || !slices.Contains(nets, netip.MustParsePrefix("127.0.0.0/8")) || !slices.ContainsFunc(nets, func(p netip.Prefix) bool { return p.Contains(netip.MustParseAddr("10.99.7.200")) }) {
		t.Fatalf("default TURN client nets %v %v", nets, err)
	}
	nets, err = turnClientNets("10.42.0.7/24", nil)
	if err != nil || !slices.Equal(nets, []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")}) {
		t.Fatalf("--turn-clients %v %v", nets, err)
	}
	if _, err := turnClientNets("nonsense", nil); err == nil {
		t.Fatal("bad --turn-clients accepted")
	}
	if !virtualInterface("docker0") || !virtualInterface("veth12") || virtualInterface("wlan0") || virtualInterface("eth0") {
		t.Fatal("virtual interface filter")
	}
}

// machineIPv4 reports whether an up, non-loopback, non-virtual interface
// has a private, or any other unicast, IPv4 address.
func machineIPv4() (private, other bool) {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || virtualInterface(ifc.Name) {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, ia := range addrs {
			p, err := netip.ParsePrefix(ia.String())
			if err != nil || !p.Addr().Is4() {
				continue
			}
			if p.Addr().IsPrivate() {
				private = true
			} else if p.Addr().IsGlobalUnicast() {
				other = true
			}
		}
	}
	return private, other
}

// In Ethernet mode the LAN interface's address goes first (the app URL
// and the call QR use the first); without one, or without an interface
// name, the advertised addresses stay as they were.
func TestWithLANAddr(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ap := []netip.Addr{netip.MustParseAddr("10.42.0.1")}
	if got := withLANAddr(t.Context(), ap, "", 0, log); !slices.Equal(got, ap) {
		t.Errorf("no LAN interface: %v", got)
	}
	if got := withLANAddr(t.Context(), ap, "kbz-missing0", 0, log); !slices.Equal(got, ap) {
		t.Errorf("a missing LAN interface: %v", got)
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		a, ok := ifaceIPv4(ifc.Name)
		if !ok {
			continue
		}
		got := withLANAddr(t.Context(), append(ap, a), ifc.Name, 0, log)
		if len(got) != 2 || got[0] != a || got[1] != ap[0] {
			t.Errorf("LAN interface %s (%v): advertise %v, want it first and once", ifc.Name, a, got)
		}
		return
	}
	t.Log("no interface with a non-loopback IPv4 address here; only the fallbacks were checked")
}

func TestEthernetMode(t *testing.T) {
	for src, want := range map[string]bool{"": false, settings.SourceWiFi: false, settings.SourceEthernet: true, settings.SourceBoth: true} {
		if got := ethernetMode(settings.Guests{Source: src}); got != want {
			t.Errorf("ethernetMode(%q) = %v", src, got)
		}
	}
}
