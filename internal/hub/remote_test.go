package hub

import "testing"

func TestPacketQueueBoundedFIFO(t *testing.T) {
	q := packetQueue{ready: make(chan struct{}, 1)}
	next, want := 0, 0
	// Interleave pushes and pops so the queue is never fully drained.
	for round := 0; round < 50; round++ {
		for i := 0; i < 100; i++ {
			if !q.push([]byte{byte(next)}, 1<<30) {
				t.Fatal("push refused below the bound")
			}
			next++
		}
		for i := 0; i < 90; i++ {
			p, ok := q.pop()
			if !ok || p[0] != byte(want) {
				t.Fatalf("pop %d: %v %v", want, p, ok)
			}
			want++
		}
	}
	if cap(q.pkts) > 4*inboundQueue {
		t.Fatalf("queue grew to %d slots", cap(q.pkts))
	}
	for q.push(nil, 1<<30) {
	}
	if n := len(q.pkts) - q.head; n != inboundQueue {
		t.Fatalf("bound %d, want %d", n, inboundQueue)
	}
}

// A queue of big datagrams stops at its byte bound, long before the
// packet bound: 2,048 datagrams of 64 KiB would be 128 MiB per remote.
func TestPacketQueueBoundedInBytes(t *testing.T) {
	q := packetQueue{ready: make(chan struct{}, 1)}
	big := make([]byte, 64<<10)
	n := 0
	for q.push(big, 1<<20) {
		n++
	}
	if n != 16 || q.bytes != 16*len(big) {
		t.Fatalf("took %d datagrams (%d bytes), want 16 (1 MiB)", n, q.bytes)
	}
	q.pop()
	if !q.push(big, 1<<20) {
		t.Fatal("push refused after a pop made room")
	}
	if got := q.shutdown(); got != 16*len(big) {
		t.Fatalf("shutdown returned %d bytes", got)
	}
	if q.push(big, 1<<20) {
		t.Fatal("push accepted after shutdown")
	}
}
