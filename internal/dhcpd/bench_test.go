package dhcpd

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkDORA measures DISCOVER+REQUEST handling (parse, allocate, build
// and serialise both replies) for ever new clients on a 241-address pool,
// without the lease file. Reported: ns per full exchange.
func BenchmarkDORA(b *testing.B) {
	cfg := Config{
		Interface: "bench0", ServerIP: mustAddr("10.42.0.1"), Prefix: mustPrefix("10.42.0.0/24"),
		PoolStart: mustAddr("10.42.0.10"), PoolEnd: mustAddr("10.42.0.250"), CaptivePortalURL: testURL,
		Logger: discardLogger(),
	}
	clock := &fakeClock{time.Now()}
	s, err := newServer(cfg, clock.now)
	if err != nil {
		b.Fatal(err)
	}
	peer := &net.UDPAddr{IP: net.IPv4zero, Port: 68}
	pkts := make([][2][]byte, 64)
	for i := range pkts {
		hw := net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
		d, _ := dhcpv4.NewDiscovery(hw)
		offer, _, _ := s.handlePacket(d.ToBytes(), peer)
		r, _ := dhcpv4.NewRequestFromOffer(offer)
		pkts[i] = [2][]byte{d.ToBytes(), r.ToBytes()}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pkts[i%len(pkts)]
		offer, _, _ := s.handlePacket(p[0], peer)
		ack, _, _ := s.handlePacket(p[1], peer)
		if offer == nil || ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
			b.Fatal("exchange failed")
		}
		offer.ToBytes()
		ack.ToBytes()
	}
}

// BenchmarkOfferFullScan is the worst case of the allocator: a pool whose
// addresses are all bound, so a new client's DISCOVER scans everything and
// gets no answer.
func BenchmarkOfferFullScan(b *testing.B) {
	clock := &fakeClock{time.Now()}
	t := newLeaseTable(mustAddr("10.42.0.1"), mustAddr("10.42.0.10"), mustAddr("10.42.0.250"), 2*time.Hour)
	for i := 0; ; i++ {
		hw := net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}
		ip, err := t.offer(hw.String(), hw, "", mustAddr("0.0.0.0"), clock.now())
		if err != nil {
			break
		}
		t.bind(hw.String(), hw, "", ip, clock.now())
	}
	hw := net.HardwareAddr{2, 0, 0, 0, 1, 1}
	b.ResetTimer()
	for b.Loop() {
		if _, err := t.offer("new", hw, "", mustAddr("0.0.0.0"), clock.now()); err == nil {
			b.Fatal("offer from a full pool")
		}
	}
}
