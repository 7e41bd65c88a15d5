package dnsd

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkRespond measures building and packing the reply to a packed A
// query, without the network.
func BenchmarkRespond(b *testing.B) {
	s := newTestServer(b, Config{Addr: "127.0.0.1:53"})
	q, _ := query("connectivitycheck.gstatic.com", dns.TypeA).Pack()
	b.ReportAllocs()
	for b.Loop() {
		var req dns.Msg
		if err := req.Unpack(q); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Respond(&req).Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPQuery measures one query/answer round trip over loopback UDP
// through the real server (one client, sequential queries).
func BenchmarkUDPQuery(b *testing.B) {
	_, udpAddr, _ := startLoopback(b)
	c := &dns.Client{Net: "udp"}
	conn, err := c.Dial(udpAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := query("captive.apple.com", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := c.ExchangeWithConn(m, conn)
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("query: %v %v", r, err)
		}
	}
}
