package sockbuf

import (
	"net"
	"testing"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSetReadsBackWhatWasGranted(t *testing.T) {
	c := listen(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// 128 KiB is under every platform's default cap (Linux rmem_max
	// 208 KiB, macOS maxsockbuf 8 MiB), so it is granted as asked.
	const small = 128 << 10
	g, err := Set(rc, small)
	if err != nil {
		t.Fatal(err)
	}
	if !supported {
		if g.Known || g.How != "default" {
			t.Fatalf("unsupported platform reported %+v", g)
		}
		return
	}
	if !g.Known || g.Recv < small || g.Send < small || g.Short(small) {
		t.Fatalf("asked %d, got %+v", small, g)
	}

	// 64 MiB is above the default caps: forced it is granted, otherwise it
	// is clamped (Linux) or halved until accepted (macOS), never an error.
	const big = 64 << 20
	g, err = Set(rc, big)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("asked %d, granted %+v", big, g)
	if !g.Known || g.Recv < small || g.Send < small {
		t.Fatalf("a big request shrank the buffers: %+v", g)
	}
	if g.How == "forced" && g.Short(big) {
		t.Fatalf("forced buffers smaller than asked: %+v", g)
	}
	if g.Short(big) != (g.Recv < big || g.Send < big) {
		t.Fatalf("Short disagrees with the sizes: %+v", g)
	}
}

func TestSetOnClosedSocket(t *testing.T) {
	c := listen(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := Set(rc, 1<<20); err == nil {
		t.Fatal("Set on a closed socket returned no error")
	}
}
