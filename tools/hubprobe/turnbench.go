package main

// (d) TURN relay throughput: two pion/turn clients allocate on the hub's TURN
// server (credentials from the g2 blob) and push UDP relay-to-relay, the path
// two relay-only browsers use for media.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

const turnRealm = "kibitz"

type turnEnd struct {
	conn   *net.UDPConn
	client *turn.Client
	relay  net.PacketConn
}

func (e *turnEnd) close() {
	if e.relay != nil {
		_ = e.relay.Close()
	}
	if e.client != nil {
		e.client.Close()
	}
	if e.conn != nil {
		_ = e.conn.Close()
	}
}

// loopOnlyConn refuses to send anywhere but loopback.
type loopOnlyConn struct{ *net.UDPConn }

// WriteTo sends only to loopback addresses.
func (l loopOnlyConn) WriteTo(p []byte, a net.Addr) (int, error) {
	if ua, ok := a.(*net.UDPAddr); !ok || !ua.IP.IsLoopback() {
		return 0, fmt.Errorf("refusing to send to non-loopback %v", a)
	}
	return l.UDPConn.WriteTo(p, a)
}

// allocate makes one TURN allocation on server with the blob's credentials
// and refuses it unless the relayed address is loopback.
func allocate(server string, b *Blob) (*turnEnd, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("turn client: listen on loopback: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	e := &turnEnd{conn: conn}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server,
		Conn: loopOnlyConn{conn}, Username: b.TURNUser, Password: b.TURNPass, Realm: turnRealm,
		LoggerFactory: lf,
	})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("turn client for %s: %w", server, err)
	}
	e.client = c
	if err := c.Listen(); err != nil {
		e.close()
		return nil, fmt.Errorf("turn client for %s: listen: %w", server, err)
	}
	r, err := c.Allocate()
	if err != nil {
		e.close()
		return nil, fmt.Errorf("allocate on %s: %w", server, err)
	}
	e.relay = r
	ra, ok := r.LocalAddr().(*net.UDPAddr)
	if !ok || !ra.IP.IsLoopback() {
		e.close()
		return nil, fmt.Errorf("relayed address %v is not loopback; refusing to use it", r.LocalAddr())
	}
	return e, nil
}

// benchTURN pushes UDP from one allocation's relayed address to another's
// at each offered rate in turn.
func benchTURN(c benchCfg) *TURNResult {
	b := c.blob
	res := &TURNResult{Server: b.TURNAddr(), PktBytes: c.turnPkt}
	t0 := time.Now()
	A, err := allocate(res.Server, b)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer A.close()
	B, err := allocate(res.Server, b)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer B.close()
	res.AllocMs = round3(float64(time.Since(t0).Microseconds()) / 2000)
	ra, rb := A.relay.LocalAddr(), B.relay.LocalAddr()
	res.RelayA, res.RelayB = ra.String(), rb.String()

	// receiver on B: [4 step][8 seq][8 ts]
	var step atomic.Int32
	var got [64]atomic.Int64
	lats := make([]*latRec, 64)
	for i := range lats {
		lats[i] = &latRec{}
	}
	var gotA atomic.Int64
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := B.relay.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 20 {
				continue
			}
			st := int(binary.BigEndian.Uint32(buf[0:4]))
			if st <= 0 || st >= len(got) {
				got[0].Add(1)
				continue
			}
			seq := binary.BigEndian.Uint64(buf[4:12])
			ts := int64(binary.BigEndian.Uint64(buf[12:20]))
			got[st].Add(1)
			if seq%8 == 0 {
				lats[st].add(time.Duration(mono() - ts))
			}
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := A.relay.ReadFrom(buf); err != nil {
				return
			}
			gotA.Add(1)
		}
	}()
	// Permissions both ways: each side must have written to the other's relay.
	hello := make([]byte, 20)
	deadline := time.Now().Add(5 * time.Second)
	for (got[0].Load() == 0 || gotA.Load() == 0) && time.Now().Before(deadline) {
		_, _ = A.relay.WriteTo(hello, rb)
		_, _ = B.relay.WriteTo(hello, ra)
		time.Sleep(50 * time.Millisecond)
	}
	if got[0].Load() == 0 || gotA.Load() == 0 {
		res.Error = "relay-to-relay path never came up"
		return res
	}
	time.Sleep(200 * time.Millisecond) // let channel bindings settle

	pkt := make([]byte, c.turnPkt)
	for i, mbps := range c.turnMbps {
		st := int32(i + 1)
		if int(st) >= len(got) {
			break
		}
		step.Store(st)
		w := watchProc(c.pid)
		var sent int64
		var sendErr error
		cpu0 := selfCPU()
		drops0 := udpDrops()
		start := time.Now()
		end := start.Add(c.turnDur)
		bytesPerSec := mbps * 1e6 / 8
		for {
			now := time.Now()
			if !now.Before(end) {
				break
			}
			if mbps > 0 {
				want := int64(bytesPerSec * now.Sub(start).Seconds() / float64(len(pkt)))
				if sent >= want {
					time.Sleep(time.Millisecond)
					continue
				}
			}
			binary.BigEndian.PutUint32(pkt[0:4], uint32(st))
			binary.BigEndian.PutUint64(pkt[4:12], uint64(sent))
			binary.BigEndian.PutUint64(pkt[12:20], uint64(mono()))
			if _, err := A.relay.WriteTo(pkt, rb); err != nil {
				if sendErr == nil && !errors.Is(err, net.ErrClosed) {
					sendErr = err
				}
				continue
			}
			sent++
		}
		el := time.Since(start).Seconds()
		selfPct := round1(100 * (selfCPU() - cpu0) / el)
		time.Sleep(500 * time.Millisecond) // drain
		recv := got[st].Load()
		s := TURNStep{
			OfferedMbps: mbps, SentPkts: sent, RecvPkts: recv,
			SentMbps: round1(float64(sent) * float64(len(pkt)) * 8 / el / 1e6),
			RecvMbps: round1(float64(recv) * float64(len(pkt)) * 8 / el / 1e6),
			Latency:  lats[st].summary(), Hub: w.Stop(), SelfCPUPct: selfPct,
			KernelDrops: udpDrops() - drops0,
		}
		if sent > 0 {
			s.LossPct = round3(100 * float64(sent-recv) / float64(sent))
		}
		if sendErr != nil {
			s.HarnessError = sendErr.Error()
		}
		res.Steps = append(res.Steps, s)
	}
	return res
}

func printTURN(r *TURNResult) {
	fmt.Printf("\n(d) TURN relay A -> relay(A) -> relay(B) -> B via %s, %d B packets\n", r.Server, r.PktBytes)
	if r.Error != "" {
		fmt.Println("  error:", r.Error)
		return
	}
	fmt.Printf("  allocations %s and %s, %.2f ms each\n", r.RelayA, r.RelayB, r.AllocMs)
	fmt.Printf("  %9s %9s %9s %8s | %-19s | %-8s | %7s | %s\n", "offered", "sent Mb/s", "recv Mb/s", "loss %", "one-way p50/p99 ms", "harness", "kdrops", "hub")
	for _, s := range r.Steps {
		off := fmt.Sprintf("%.0f", s.OfferedMbps)
		if s.OfferedMbps == 0 {
			off = "max"
		}
		fmt.Printf("  %9s %9.1f %9.1f %8.3f | %7.3f / %-9.3f | %6.0f%% | %7d | %s\n", off, s.SentMbps, s.RecvMbps, s.LossPct, s.Latency.P50Ms, s.Latency.P99Ms, s.SelfCPUPct, s.KernelDrops, s.Hub)
	}
}
