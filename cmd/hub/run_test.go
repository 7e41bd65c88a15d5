package main

import (
	"log/slog"
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
	for _, a := range auto {
		if !a.Is4() || !(a.IsPrivate() || a.IsLoopback()) {
			t.Fatalf("advertised %v", a)
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
