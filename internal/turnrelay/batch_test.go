package turnrelay

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// singleConn is what the relay uses outside Linux; it is tested here on
// whatever the tests run on.
func TestSingleConnMovesDatagramsOneByOne(t *testing.T) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sa, sb := singleConn{a}, singleConn{b}

	out := []ipv4.Message{
		{Buffers: [][]byte{[]byte("one")}, Addr: b.LocalAddr()},
		{Buffers: [][]byte{[]byte("two")}, Addr: b.LocalAddr()},
	}
	if n, err := sa.WriteBatch(out, 0); n != 2 || err != nil {
		t.Fatalf("WriteBatch = %d, %v; want 2, nil", n, err)
	}
	in := make([]ipv4.Message, 4)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 64)}
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"one", "two"} {
		n, err := sb.ReadBatch(in, 0)
		if n != 1 || err != nil {
			t.Fatalf("ReadBatch = %d, %v; want 1, nil", n, err)
		}
		got := string(in[0].Buffers[0][:in[0].N])
		from := in[0].Addr.(*net.UDPAddr)
		if got != want || from.Port != a.LocalAddr().(*net.UDPAddr).Port {
			t.Fatalf("read %q from %v, want %q from %v", got, from, want, a.LocalAddr())
		}
	}

	// A failing first message is an error; a later one ends the batch.
	bad := []ipv4.Message{{Buffers: [][]byte{[]byte("x")}, Addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}}}
	if n, err := sa.WriteBatch(bad, 0); n != 0 || err == nil {
		t.Fatalf("WriteBatch to port 0 = %d, %v; want 0 and an error", n, err)
	}
	if n, err := sa.WriteBatch(append(out[:1:1], bad...), 0); n != 1 || err != nil {
		t.Fatalf("WriteBatch with a bad second message = %d, %v; want 1, nil", n, err)
	}
	a.Close()
	if _, err := sa.ReadBatch(in, 0); err == nil {
		t.Fatal("ReadBatch on a closed socket returned no error")
	}
}
