package hub

import "testing"

func TestPacketQueueBoundedFIFO(t *testing.T) {
	q := packetQueue{ready: make(chan struct{}, 1)}
	next, want := 0, 0
	// Interleave pushes and pops so the queue is never fully drained.
	for round := 0; round < 50; round++ {
		for i := 0; i < 100; i++ {
			if !q.push([]byte{byte(next)}) {
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
	for q.push(nil) {
	}
	if n := len(q.pkts) - q.head; n != inboundQueue {
		t.Fatalf("bound %d, want %d", n, inboundQueue)
	}
}
