package turnrelay

import (
	"net"
	"testing"

	"github.com/pion/stun/v4"
)

// FuzzPermissionRequest feeds arbitrary datagrams to the parsing the
// listeners do on every datagram before pion sees it. It must never panic,
// and it may only report peers for CreatePermission/ChannelBind requests.
func FuzzPermissionRequest(f *testing.F) {
	for _, method := range []stun.Method{stun.MethodCreatePermission, stun.MethodChannelBind, stun.MethodAllocate} {
		m, err := stun.Build(stun.TransactionID, stun.NewType(method, stun.ClassRequest),
			xorPeer{&stun.XORMappedAddress{IP: net.IPv4(10, 42, 0, 1), Port: 50000}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Raw)
	}
	f.Add([]byte{0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		isPerm := isPermissionRequest(b)
		peers := appendPeerAddrs(nil, b)
		if isPerm && len(b) < 20 {
			t.Fatalf("%d-byte datagram taken for a STUN request", len(b))
		}
		for _, p := range peers {
			if !p.IsValid() || p.Addr().Is4In6() {
				t.Fatalf("invalid or mapped peer %v", p)
			}
		}
	})
}
