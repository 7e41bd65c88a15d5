package turnrelay

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// rawClient speaks just enough TURN over one UDP socket to allocate and
// deallocate, so a test can make thousands of allocations from many
// addresses and ports cheaply.
type rawClient struct {
	conn  *net.UDPConn
	to    *net.UDPAddr
	nonce stun.Nonce
}

func newRawClient(t testing.TB, server netip.AddrPort, local netip.AddrPort) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
	if err != nil {
		t.Fatalf("socket on %v: %v", local, err)
	}
	return &rawClient{conn: c, to: net.UDPAddrFromAddrPort(server)}
}

// roundTrip sends a request of method with attrs, signed when a nonce is
// known, and returns the answer (nil: none within 300 ms).
func (c *rawClient) roundTrip(t testing.TB, method stun.Method, attrs ...stun.Setter) *stun.Message {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}
	setters = append(setters, attrs...)
	if c.nonce != nil {
		setters = append(setters, stun.NewUsername(testUser), stun.NewRealm(DefaultRealm), c.nonce,
			stun.NewLongTermIntegrity(testUser, DefaultRealm, testPass))
	}
	setters = append(setters, stun.Fingerprint)
	req, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.WriteToUDP(req.Raw, c.to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	c.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, _, err := c.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	resp := &stun.Message{Raw: buf[:n]}
	if resp.Decode() != nil {
		t.Fatalf("answer is not STUN")
	}
	return resp
}

var udpTransport = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

// allocate reports whether an allocation for this 5-tuple was granted.
func (c *rawClient) allocate(t testing.TB) bool {
	t.Helper()
	resp := c.roundTrip(t, stun.MethodAllocate, udpTransport)
	if resp == nil {
		return false
	}
	if resp.Type.Class == stun.ClassErrorResponse {
		if err := c.nonce.GetFrom(resp); err != nil {
			return false
		}
		c.nonce = append(stun.Nonce(nil), c.nonce...)
		resp = c.roundTrip(t, stun.MethodAllocate, udpTransport)
	}
	return resp != nil && resp.Type == stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse)
}

// deallocate sends Refresh with LIFETIME 0 and reports whether it was answered.
func (c *rawClient) deallocate(t testing.TB, nonce stun.Nonce) bool {
	t.Helper()
	c.nonce = nonce
	lifetime := stun.RawAttribute{Type: stun.AttrLifetime, Value: binary.BigEndian.AppendUint32(nil, 0)}
	return c.roundTrip(t, stun.MethodRefresh, lifetime) != nil
}

// One guest sending from 110 addresses of the guest network (as a guest
// could before the hotspot's source guard) allocates everything it can;
// a guest arriving afterwards still gets allocations.
func TestOneGuestFromManyAddressesLeavesRoomForNewcomers(t *testing.T) {
	cfg := testConfig()
	cfg.ClientNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.AllocationLifetime = 10 * time.Minute
	s := startRelay(t, cfg)
	granted := 0
	for a := 0; a < 110; a++ {
		ip := netip.AddrFrom4([4]byte{127, 0, 7, byte(10 + a)})
		for i := 0; i < DefaultMaxAllocationsPerClient+2; i++ {
			c := newRawClient(t, s.Addr(), netip.AddrPortFrom(ip, 0))
			ok := c.allocate(t)
			c.conn.Close() // the allocation outlives the socket
			if !ok {
				break
			}
			granted++
		}
	}
	t.Logf("the flooder holds %d allocations", granted)
	if granted > DefaultMaxAllocations-DefaultMaxAllocations/4+110*crowdedShare {
		t.Fatalf("one guest holds %d of %d allocations", granted, DefaultMaxAllocations)
	}
	for i := 0; i < crowdedShare; i++ {
		relay, err := newTURNClient(t, s.Addr(), loopback, testUser, testPass).client.Allocate()
		if err != nil {
			t.Fatalf("newcomer's allocation %d refused: %v", i+1, err)
		}
		relay.Close()
	}
	if st := s.Stats(); st.RefusedQuota == 0 {
		t.Fatalf("no allocation refused: %+v", st)
	}
}

// A guest cannot end another guest's allocation by guessing its port:
// deallocations naming 5-tuples without an allocation soon bar its IP from
// deallocating at all, and the right guess then comes too late.
func TestGuessedDeallocationCannotEndAnotherGuestsAllocation(t *testing.T) {
	cfg := testConfig()
	s := startRelay(t, cfg)
	victim := newRawClient(t, s.Addr(), netip.AddrPortFrom(loopback, 0))
	if !victim.allocate(t) {
		t.Fatal("victim's allocation refused")
	}
	victimAddr := victim.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	nonce := victim.nonce // the same for every client within a minute
	victim.conn.Close()   // frees the port for the forger; the allocation stays

	// The forger tries other ports of the same IP first (a blind scan).
	for i := 0; i < maxDeallocMisses+2; i++ {
		f := newRawClient(t, s.Addr(), netip.AddrPortFrom(loopback, 0))
		if f.deallocate(t, nonce) {
			t.Fatal("a deallocation without an allocation was answered")
		}
		f.conn.Close()
	}
	// Then hits the victim's exact 5-tuple: that is what a forged source
	// address looks like to the relay.
	f := newRawClient(t, s.Addr(), victimAddr)
	defer f.conn.Close()
	if f.deallocate(t, nonce) {
		t.Fatal("deallocation answered after the scan")
	}
	if got := s.Stats().Allocations; got != 1 {
		t.Fatalf("victim's allocation ended: %d allocations", got)
	}
	if s.Stats().RefusedDeallocate < maxDeallocMisses {
		t.Fatalf("refused deallocations not counted: %+v", s.Stats())
	}
}
