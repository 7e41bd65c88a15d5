package hub

import (
	"strings"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/hubclient"
)

// BenchmarkRoute measures A→hub→B routing of small frames over loopback
// with at most 256 frames in flight (client and hub share the CPU).
func BenchmarkRoute(b *testing.B) {
	for _, size := range []int{100, 8192} {
		b.Run(itoa(size)+"B", func(b *testing.B) {
			h := startHub(b, nil)
			a := dial(b, h.blob)
			r := dial(b, h.blob, hubclient.WithRecvBuffer(4096))
			a.Join("bench")
			r.Join("bench")
			waitPeers(b, a, sorted(a.ID(), r.ID()))
			payload := strings.Repeat("x", max(1, size-40))
			const window = 256
			b.SetBytes(int64(size))
			b.ResetTimer()
			sent, got := 0, 0
			for got < b.N {
				for sent < b.N && sent-got < window {
					if err := a.Send(r.ID(), payload); err != nil {
						b.Fatal(err)
					}
					sent++
				}
				if _, err := r.Recv(ctxT(b, 10*time.Second)); err != nil {
					b.Fatalf("after %d frames: %v", got, err)
				}
				got++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
