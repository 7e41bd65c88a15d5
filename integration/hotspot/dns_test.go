package hotspot_test

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/dnsd"
	"github.com/kibitzbox/kibitzbox/internal/netnstest"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+),`)
	answerRE = regexp.MustCompile(`ANSWER: (\d+),`)
	recordRE = regexp.MustCompile(`(?m)^(\S+)\s+(\d+)\s+IN\s+A\s+(\S+)$`)
)

type digResult struct {
	status, answers string
	records         [][]string // name, ttl, address
}

func dig(t *testing.T, ns *netnstest.NS, args ...string) digResult {
	t.Helper()
	out, err := ns.Run(15*time.Second, "dig", append([]string{"@10.42.0.1", "+time=2", "+tries=2"}, args...)...)
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	r := digResult{}
	if m := statusRE.FindStringSubmatch(out); m != nil {
		r.status = m[1]
	}
	if m := answerRE.FindStringSubmatch(out); m != nil {
		r.answers = m[1]
	}
	for _, m := range recordRE.FindAllStringSubmatch(out, -1) {
		r.records = append(r.records, m[1:])
	}
	return r
}

// TestDigFromClientNamespace queries our server with dig from a separate
// namespace over a veth pair, as a phone on the AP would.
func TestDigFromClientNamespace(t *testing.T) {
	netnstest.Require(t)
	testenv.RequireProgram(t, "dig", "ss")
	srvNS, staNS := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, srvNS, "ap0", staNS, "sta0")
	staNS.AddAddr("sta0", "10.42.0.50/24")

	s, err := dnsd.New(dnsd.Config{Addr: "10.42.0.1:53", Answer: netip.MustParseAddr("10.42.0.1"), TTL: 15 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stop := srvNS.Serve(t, "dnsd", s.Run)
	defer stop()
	// The address arrives after the server bound it (as when the AP comes
	// up late): IP_FREEBIND makes that possible.
	bound := false
	for range 100 {
		out, err := srvNS.Run(5*time.Second, "ss", "-H", "-l", "-n", "-u", "-t")
		if err == nil && strings.Count(out, "10.42.0.1:53") == 2 {
			bound = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bound {
		t.Fatal("the server did not bind 10.42.0.1:53 (UDP and TCP) before the address existed")
	}
	srvNS.AddAddr("ap0", "10.42.0.1/24")

	r := dig(t, staNS, "connectivitycheck.gstatic.com", "A")
	if r.status != "NOERROR" || len(r.records) != 1 || r.records[0][0] != "connectivitycheck.gstatic.com." ||
		r.records[0][1] != "15" || r.records[0][2] != "10.42.0.1" {
		t.Fatalf("A over UDP: %+v, want connectivitycheck.gstatic.com. 15 IN A 10.42.0.1", r)
	}
	if r := dig(t, staNS, "+tcp", "captive.apple.com", "A"); len(r.records) != 1 || r.records[0][2] != "10.42.0.1" {
		t.Fatalf("A over TCP: %+v", r)
	}
	for _, q := range [][]string{{"captive.apple.com", "AAAA"}, {"www.google.com", "TYPE65"}, {"example.org", "MX"}} {
		if r := dig(t, staNS, q...); r.status != "NOERROR" || r.answers != "0" {
			t.Errorf("%v: %+v, want NOERROR with no answers", q, r)
		}
	}
	for _, q := range [][]string{{"printer.local", "A"}, {"+tcp", "tv.local", "AAAA"}} {
		if r := dig(t, staNS, q...); r.status != "REFUSED" {
			t.Errorf("%v: %+v, want REFUSED", q, r)
		}
	}

	if r := dig(t, staNS, "use-application-dns.net", "A"); r.status != "NXDOMAIN" {
		t.Errorf("Firefox DoH canary: %+v, want NXDOMAIN", r)
	}

	// Garbage from the client namespace over UDP and TCP.
	err = staNS.Do(func() error {
		u, err := net.Dial("udp4", "10.42.0.1:53")
		if err != nil {
			return err
		}
		defer u.Close()
		for _, g := range []string{"\x00", strings.Repeat("\xff", 512), "\x12\x34\x01\x00\x00\x05\x00\x00\x00\x00\x00\x00"} {
			if _, err := u.Write([]byte(g)); err != nil {
				return err
			}
		}
		c, err := net.Dial("tcp4", "10.42.0.1:53")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("\x00\x04junk\xff\xff"))
		return err
	})
	if err != nil {
		t.Fatalf("send garbage: %v", err)
	}
	if r := dig(t, staNS, "after.garbage.example", "A"); len(r.records) != 1 {
		t.Fatalf("after garbage: %+v", r)
	}
	if r := dig(t, staNS, "+tcp", "after.garbage.example", "A"); len(r.records) != 1 {
		t.Fatalf("TCP after garbage: %+v", r)
	}
	if st := s.Stats(); st.Invalid+st.FormErr < 3 || st.Answered != 4 || st.Refused != 2 {
		t.Errorf("stats %+v: want 4 answered, 2 refused, the garbage counted", st)
	}
}
