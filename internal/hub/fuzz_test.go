package hub

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"t":"join","room":"lobby"}`, `{"t":"peers"}`, `{"t":"to","id":3,"payload":{"k":"hi"}}`,
		`{"t":"to","id":3}`, `{"t":"echo","x":[1,{"a":null}]}`, `{"t":"to","id":"3","payload":1}`,
		`{"t":"to","id":1.5}`, `{"t":5}`, `[1]`, `null`, `{"t":"join","room":123}`, "{\"t\":\"echo\",\"x\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if id, payload, ok := fastTo(data); ok {
			// The fast path must agree with encoding/json.
			var slow inFrame
			if err := json.Unmarshal(data, &slow); err != nil || slow.T != typeTo || slow.ID == nil ||
				*slow.ID != id || string(slow.Payload) != string(payload) {
				t.Fatalf("fast path accepted %q as to %d %q; encoding/json says %+v %v", data, id, payload, slow, err)
			}
		}
		if err != nil {
			return
		}
		switch fr.T {
		case typeTo:
			if fr.ID == nil || *fr.ID <= 0 || fr.Payload == nil {
				t.Fatalf("accepted bad to: %q", data)
			}
			out := fromFrame(*fr.ID, fr.Payload)
			if !json.Valid(out) {
				t.Fatalf("from frame is not JSON: %q", out)
			}
		case typeEcho:
			if out := echoFrame(fr.X); !json.Valid(out) {
				t.Fatalf("echo frame is not JSON: %q", out)
			}
		case typeJoin:
			if fr.Room != nil && galaxy.CheckRoom(*fr.Room) != nil {
				t.Fatalf("accepted bad room %q", *fr.Room)
			}
		case typePeers:
		default:
			t.Fatalf("accepted type %q", fr.T)
		}
	})
}

// FuzzHandlePacket feeds datagrams to the hub's demultiplexer and STUN
// responder. Every input comes from a fresh loopback address, so a valid
// check never lets a later input start a DTLS session.
func FuzzHandlePacket(f *testing.F) {
	dev, err := galaxy.NewIdentity()
	if err != nil {
		f.Fatal(err)
	}
	disc, _ := galaxy.Discovery()
	h, err := New(Config{ListenAddr: "127.0.0.1:0", Identities: []*galaxy.Identity{dev, disc}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.conn.Close() })
	valid, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(galaxy.DiscoveryUfrag+":x"),
		stun.NewShortTermIntegrity(galaxy.DiscoveryPwd), stun.Fingerprint)
	f.Add(valid.Raw)
	f.Add(valid.Raw[:24])
	indication, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.Fingerprint)
	f.Add(indication.Raw)
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1})
	f.Add([]byte{0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 6, 0, 0})
	req, resp := new(stun.Message), new(stun.Message)
	var n uint32
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n++
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(n >> 8), byte(n)}), uint16(1024+n%60000))
		h.handlePacket(pkt, from, req, resp)
		h.mu.Lock()
		r := len(h.remotes)
		h.mu.Unlock()
		if r != 0 {
			t.Fatalf("a single datagram started a DTLS session")
		}
	})
}
