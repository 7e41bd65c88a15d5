package hub_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

// checkRequest is a Binding request signed with the public discovery
// credentials, as any guest can make one.
func checkRequest(t *testing.T) []byte {
	t.Helper()
	disc, err := galaxy.Discovery()
	if err != nil {
		t.Fatal(err)
	}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(disc.Ufrag+":flooder"), stun.NewShortTermIntegrity(disc.Pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return req.Raw
}

// clientHello captures a pion DTLS client's first flight.
func clientHello(t *testing.T) []byte {
	t.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := galaxy.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dtls.ClientWithOptions(c, sink.LocalAddr(), dtls.WithCertificates(id.Certificate),
		dtls.WithInsecureSkipVerify(true), dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn.HandshakeContext(ctx)
		conn.Close()
	}()
	buf := make([]byte, 2048)
	sink.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := sink.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

var hubAtt = &net.UDPAddr{IP: net.ParseIP(hubAttIP), Port: hubPort}

// The lockout: a guest passes STUN checks (public discovery
// credentials) from 10,000 source ports, with a ClientHello from every
// 25th. A new guest still gets a hub session.
func TestAbuseSTUNFlood(t *testing.T) {
	b := startBox(t, 1)
	sent, firstWave, stop := stunFlood(t, b)
	<-firstWave
	joined := b.normalGuest()
	stop()
	t.Logf("flood: %d source ports", sent.Load())
	b.finish("stun-flood-10000-ports", joined)
}

// stunFlood starts the attacker (in its own namespace) passing STUN checks
// from 500 fresh source ports per batch, a ClientHello from every 25th,
// until stopped; firstWave closes after 10,000 ports.
func stunFlood(t *testing.T, b *box) (sent *atomic.Int64, firstWave chan struct{}, stop func()) {
	t.Helper()
	req, hello := checkRequest(t), clientHello(t)
	sent = new(atomic.Int64)
	firstWave = make(chan struct{})
	stop = during(t, func(ctx context.Context) error {
		return b.attacker.Do(func() error {
			for batch := 0; ; batch++ {
				if batch == 20 {
					close(firstWave) // 10,000 ports done
				}
				if batch >= 20 && ctx.Err() != nil {
					return nil
				}
				conns := make([]*net.UDPConn, 500)
				for i := range conns {
					c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: attackerIP(0).AsSlice()})
					if err != nil {
						return err
					}
					conns[i] = c
					c.WriteToUDP(req, hubAtt)
					if i%25 == 0 {
						c.WriteToUDP(hello, hubAtt)
					}
					sent.Add(1)
				}
				for _, c := range conns {
					c.Close()
				}
			}
		})
	})
	return sent, firstWave, stop
}

// The acceptance case, on loopback inside the hub's namespace: a
// guest on 127.0.0.2 floods STUN from 10,000 source ports, and a new guest
// on 127.0.0.1 still gets a hub session and talks.
func TestAbuseSTUNFloodLoopback(t *testing.T) {
	b := startBox(t, 0)
	req, hello := checkRequest(t), clientHello(t)
	hub := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: hubPort}
	err := b.ns.Do(func() error {
		for batch := 0; batch < 20; batch++ {
			conns := make([]*net.UDPConn, 500)
			for i := range conns {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
				if err != nil {
					return err
				}
				conns[i] = c
				c.WriteToUDP(req, hub)
				if i%25 == 0 {
					c.WriteToUDP(hello, hub)
				}
			}
			for _, c := range conns {
				c.Close()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a, err := dialIn(t, b.ns, b.blob, hubclient.LoopbackOnly())
	if err != nil {
		t.Fatalf("a new guest on 127.0.0.1 could not join after the flood: %v", err)
	}
	joined := time.Since(start)
	c, err := dialIn(t, b.ns, b.blob, hubclient.LoopbackOnly())
	if err != nil {
		t.Fatal(err)
	}
	a.Join("r")
	c.Join("r")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if ids, err := a.Peers(ctx); err != nil {
			t.Fatal(err)
		} else if len(ids) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Send(a.ID(), "after the flood"); err != nil {
		t.Fatal(err)
	}
	if f, err := a.Recv(ctx); err != nil || f.ID != c.ID() {
		t.Fatalf("frame: %v %s", err, f.Raw)
	}
	b.finish("stun-flood-loopback", joined)
}

// rawSender sends UDP datagrams with a forged IPv4 source.
type rawSender struct{ fd int }

func newRawSender(t *testing.T) *rawSender {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	return &rawSender{fd: fd}
}

func (r *rawSender) send(from, to netip.AddrPort, payload []byte) error {
	pkt := make([]byte, 28+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = 64
	pkt[9] = syscall.IPPROTO_UDP
	f, d := from.Addr().As4(), to.Addr().As4()
	copy(pkt[12:16], f[:])
	copy(pkt[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(pkt[20:], from.Port())
	binary.BigEndian.PutUint16(pkt[22:], to.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload))) // checksum 0: none (IPv4)
	copy(pkt[28:], payload)
	return syscall.Sendto(r.fd, pkt, 0, &syscall.SockaddrInet4{Addr: d})
}

// A guest forges the normal guest's address as the source of STUN checks
// and ClientHellos (reflection). The victim receives no more bytes from
// the hub than the forger sent, and still joins.
func TestAbuseSpoofedSources(t *testing.T) {
	b := startBox(t, 1)
	req, hello := checkRequest(t), clientHello(t)
	// The victim listens on 50 ports that the forger names.
	var victims []*net.UDPConn
	if err := b.guest.Do(func() error {
		for range 50 {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(guestIP)})
			if err != nil {
				return err
			}
			victims = append(victims, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var received atomic.Int64
	for _, c := range victims {
		t.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					return
				}
				received.Add(int64(n))
			}
		}()
	}
	var sent atomic.Int64
	hub := netip.AddrPortFrom(netip.MustParseAddr(hubAttIP), hubPort)
	stop := during(t, func(ctx context.Context) error {
		return b.attacker.Do(func() error {
			r := newRawSender(t)
			defer syscall.Close(r.fd)
			// One round: each forged ClientHello starts a handshake, so
			// this is where a certificate flight would amplify.
			for round := 0; ctx.Err() == nil && round < 1; round++ {
				for _, v := range victims {
					from := netip.AddrPortFrom(netip.MustParseAddr(guestIP), uint16(v.LocalAddr().(*net.UDPAddr).Port))
					for _, p := range [][]byte{req, hello} {
						if err := r.send(from, hub, p); err != nil {
							return fmt.Errorf("forged send: %w", err)
						}
						sent.Add(int64(len(p)))
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		})
	})
	joined := b.normalGuest()
	stop()
	time.Sleep(time.Second) // replies still on their way
	t.Logf("forged %d bytes, the victim got %d from the hub", sent.Load(), received.Load())
	if sent.Load() == 0 {
		t.Fatal("nothing forged")
	}
	if received.Load() > sent.Load() {
		t.Fatalf("amplification: forged %d bytes, the victim got %d", sent.Load(), received.Load())
	}
	b.finish("spoofed-sources", joined)
}

// 200 receivers (25 addresses, 8 each: the per-IP cap) stop reading and
// acknowledging while one sender pushes 64 KiB frames at all of them.
func TestAbuseSlowReceivers(t *testing.T) {
	const addrs, perAddr = 25, 8
	b := startBox(t, addrs+1)
	receivers := dialMany(t, b, addrs*perAddr, perAddr, func(i int, c *hubclient.Client) { c.Join("slow") })
	sender, err := dialIn(t, b.attacker, b.blob, hubclient.WithLocalIP(attackerIP(addrs)))
	if err != nil {
		t.Fatal(err)
	}
	sender.Join("slow")
	time.Sleep(500 * time.Millisecond) // joins land
	var ids []int64
	for _, c := range receivers {
		ids = append(ids, c.ID())
		c.Vanish() // stops reading and acknowledging; the session stays
	}
	// 200 MiB offered in all, three times the hub's send budget.
	payload := strings.Repeat("x", 64<<10)
	sent := make(chan struct{})
	stop := during(t, func(ctx context.Context) error {
		defer close(sent)
		for round := 0; round < 16 && ctx.Err() == nil; round++ {
			for _, id := range ids {
				if err := sender.Send(id, payload); err != nil {
					return nil // the hub may cut the sender off; that is allowed
				}
			}
		}
		// An echo behind the frames: the hub has routed them all.
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		sender.Echo(ctx, "done")
		return nil
	})
	joined := b.normalGuest()
	<-sent
	stop()
	b.finish("200-slow-receivers", joined)
}

// dialMany dials n attacker sessions, perAddr from each attacker address
// (the hub's per-IP cap), a few at a time, and runs then on each.
func dialMany(t *testing.T, b *box, n, perAddr int, then func(int, *hubclient.Client)) []*hubclient.Client {
	t.Helper()
	out := make([]*hubclient.Client, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialIn(t, b.attacker, b.blob, hubclient.WithLocalIP(attackerIP(i/perAddr)))
			if err != nil {
				errs <- fmt.Errorf("attacker session %d: %w", i, err)
				return
			}
			then(i, c)
			out[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// 700 sessions, each in its own room with a 64-byte name of '<' (6 bytes
// each in JSON), and a join with a 256-byte name from each is refused.
// /status stays small enough for the display.
func TestAbuseLongRoomNames(t *testing.T) {
	const sessions, perAddr = 700, 8
	const statusBound = 64 << 10
	b := startBox(t, (sessions+perAddr-1)/perAddr)
	dialMany(t, b, sessions, perAddr, func(i int, c *hubclient.Client) {
		c.Join(strings.Repeat("<", 256))
		c.Join(fmt.Sprintf("%s%04d", strings.Repeat("<", 60), i))
	})
	joined := b.normalGuest()
	doc, size := statusDoc(t, b)
	for i := 0; i < 25 && len(doc.Rooms)+doc.OtherRooms < sessions; i++ { // joins are asynchronous
		time.Sleep(200 * time.Millisecond)
		doc, size = statusDoc(t, b)
	}
	t.Logf("/status: %d bytes, %d sessions, %d rooms listed, %d others; drops %v", size, doc.Sessions, len(doc.Rooms), doc.OtherRooms, doc.Drops)
	if size > statusBound {
		t.Fatalf("/status is %d bytes, bound %d", size, statusBound)
	}
	// All 700 joined (dialMany waits for each id), but on a busy 2-core
	// machine this one test process cannot keep 700 pion peers answering
	// within the hub's 3.5 s idle limit, so some are gone by now; the list
	// must be capped (32 listed, the rest counted) whatever is left.
	// TestStatsListsTheBiggestRoomsOnly checks the exact 700.
	if len(doc.Rooms) != 32 || doc.OtherRooms == 0 || doc.Drops["bad_room_name"] < sessions {
		t.Fatalf("rooms %d+%d, refused joins %d", len(doc.Rooms), doc.OtherRooms, doc.Drops["bad_room_name"])
	}
	b.finish("700-long-room-names", joined)
}

// One guest allocates TURN from 110 addresses, as many as the relay gives
// (40 per address; 4,096 in all). A normal guest still gets an allocation.
func TestAbuseTURNAllocations(t *testing.T) {
	const addrs = 110
	b := startBox(t, addrs)
	server := &net.UDPAddr{IP: net.ParseIP(hubAttIP), Port: turnPort}
	var granted int
	err := b.attacker.Do(func() error {
		for a := range addrs {
			for range 42 {
				ok, err := rawAllocate(attackerIP(a), server)
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				granted++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the attacker holds %d allocations", granted)
	joined := b.normalGuest()
	err = b.guest.Do(func() error {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(guestIP)})
		if err != nil {
			return err
		}
		defer conn.Close()
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelDisabled
		addr := net.JoinHostPort(hubIP, fmt.Sprint(turnPort))
		c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
			Username: galaxy.DiscoveryTURNUser, Password: galaxy.DiscoveryTURNPass, Realm: galaxy.TURNRealm, LoggerFactory: lf})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			return err
		}
		relay, err := c.Allocate()
		if err != nil {
			return fmt.Errorf("the normal guest's TURN allocation: %w", err)
		}
		return relay.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	b.finish("turn-110-addresses", joined)
}

// rawAllocate makes one TURN allocation from a fresh port of ip and
// closes the socket (the allocation stays until it expires).
func rawAllocate(ip netip.Addr, server *net.UDPAddr) (bool, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip.AsSlice()})
	if err != nil {
		return false, err
	}
	defer c.Close()
	transport := stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}
	var nonce stun.Nonce
	for attempt := 0; attempt < 2; attempt++ {
		setters := []stun.Setter{stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), transport}
		if nonce != nil {
			setters = append(setters, stun.NewUsername(galaxy.DiscoveryTURNUser), stun.NewRealm(galaxy.TURNRealm), nonce,
				stun.NewLongTermIntegrity(galaxy.DiscoveryTURNUser, galaxy.TURNRealm, galaxy.DiscoveryTURNPass))
		}
		setters = append(setters, stun.Fingerprint)
		req, err := stun.Build(setters...)
		if err != nil {
			return false, err
		}
		c.WriteToUDP(req.Raw, server)
		buf := make([]byte, 1500)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return false, nil
		}
		resp := &stun.Message{Raw: buf[:n]}
		if resp.Decode() != nil {
			return false, nil
		}
		if resp.Type.Class == stun.ClassSuccessResponse {
			return true, nil
		}
		var nn stun.Nonce
		if nonce != nil || nn.GetFrom(resp) != nil {
			return false, nil // refused with credentials: the cap
		}
		nonce = append(stun.Nonce(nil), nn...)
	}
	return false, nil
}
