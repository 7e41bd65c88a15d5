package main

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	if got := summarize(nil); got != (Summary{}) {
		t.Errorf("empty: %+v", got)
	}
	// 1..100 ms in shuffled order: nearest-rank percentiles are exact.
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	in := append([]time.Duration(nil), ds...)
	got := summarize(ds)
	want := Summary{N: 100, MinMs: 1, P50Ms: 50, P90Ms: 90, P99Ms: 99, MaxMs: 100, MeanMs: 50.5}
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(ds, in) {
		t.Error("summarize reordered its input")
	}
	one := summarize([]time.Duration{1500 * time.Microsecond})
	if one.N != 1 || one.MinMs != 1.5 || one.P50Ms != 1.5 || one.P99Ms != 1.5 || one.MaxMs != 1.5 {
		t.Errorf("single sample: %+v", one)
	}
	if s := (Summary{}).String(); s != "n=0" {
		t.Errorf("empty string %q", s)
	}
}

func TestLatRec(t *testing.T) {
	var l latRec
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 25; i++ {
				l.add(time.Millisecond)
			}
			done <- struct{}{}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if s := l.summary(); s.N != 100 || s.P50Ms != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestParseProc(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := []byte("4242 (hub (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1000 1234567 2048\n")
	status := []byte("Name:\thub\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\nVmSwap:\tn/a\n")
	got, err := parseProc(stat, status)
	if err != nil {
		t.Fatal(err)
	}
	want := ProcSample{CPU: 3.25, RSSKiB: 10240, HWMKiB: 20480, Threads: 9}
	if got != want {
		t.Errorf("sample %+v, want %+v", got, want)
	}
	for _, bad := range []string{"4242 hub S 1", "4242 (hub) S 1 2 3", "4242 (hub) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 75 0"} {
		if _, err := parseProc([]byte(bad), status); err == nil {
			t.Errorf("parseProc(%q) accepted it", bad)
		}
	}
}

func TestProcWatchOfNoProcess(t *testing.T) {
	// No --pid: the watch is inert and reports nothing.
	w := watchProc(0)
	if d := w.Stop(); d != nil {
		t.Errorf("delta %+v", d)
	}
	if s := (*ProcDelta)(nil).String(); s != "-" {
		t.Errorf("nil delta prints %q", s)
	}
}

func TestRcvbufErrors(t *testing.T) {
	snmp := []byte("Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 100 2 7 90 5 0 0 0 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n" +
		"UdpLite: 0 0 0 0 99 0\n")
	if got := rcvbufErrors(snmp); got != 5 {
		t.Errorf("RcvbufErrors %d, want 5", got)
	}
	if got := rcvbufErrors([]byte("Udp: InDatagrams\nUdp: 1\n")); got != -1 {
		t.Errorf("without the column: %d, want -1", got)
	}
	if got := rcvbufErrors(nil); got != -1 {
		t.Errorf("empty: %d, want -1", got)
	}
}

func TestParseLists(t *testing.T) {
	if got := parseInts("100, 8192,x,,3"); !reflect.DeepEqual(got, []int{100, 8192, 3}) {
		t.Errorf("parseInts %v", got)
	}
	if got := parseFloats("10,0.5, max ,0"); !reflect.DeepEqual(got, []float64{10, 0.5, 0}) {
		t.Errorf("parseFloats %v", got)
	}
}
