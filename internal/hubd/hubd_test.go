package hubd

import (
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
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
