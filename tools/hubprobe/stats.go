package main

// Latency summaries and accounting of the hub process through /proc.

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Summary is a latency distribution in milliseconds.
type Summary struct {
	N      int     `json:"n"`
	MinMs  float64 `json:"min_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// summarize sorts a copy of ds and reads nearest-rank percentiles from it.
func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	q := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		return s[i]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{N: len(s), MinMs: ms(s[0]), P50Ms: ms(q(0.5)), P90Ms: ms(q(0.9)), P99Ms: ms(q(0.99)),
		MaxMs: ms(s[len(s)-1]), MeanMs: ms(sum / time.Duration(len(s)))}
}

func (s Summary) String() string {
	if s.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d min=%.2f p50=%.2f p90=%.2f p99=%.2f max=%.2f ms", s.N, s.MinMs, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
}

// latRec collects durations from many goroutines.
type latRec struct {
	mu sync.Mutex
	ds []time.Duration
}

func (l *latRec) add(d time.Duration) { l.mu.Lock(); l.ds = append(l.ds, d); l.mu.Unlock() }
func (l *latRec) summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.ds)
}

const clkTck = 100 // USER_HZ on Linux

// ProcSample is one reading of a process's CPU time and memory.
type ProcSample struct {
	CPU     float64 // utime+stime, seconds
	RSSKiB  int64   // VmRSS
	HWMKiB  int64   // VmHWM (peak RSS since start)
	Threads int
}

// readProc reads the CPU time and memory of process pid from /proc.
func readProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	return parseProc(stat, status)
}

// parseProc turns the contents of /proc/PID/stat and /proc/PID/status into
// a sample. See proc_pid_stat(5): utime and stime are fields 14 and 15.
func parseProc(stat, status []byte) (ProcSample, error) {
	var s ProcSample
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and ')', so count fields from the last ')'.
	str := string(stat)
	i := strings.LastIndexByte(str, ')')
	if i < 0 {
		return s, fmt.Errorf("parse /proc stat %q: no command name", trunc(stat, 40))
	}
	f := strings.Fields(str[i+1:])
	if len(f) < 13 {
		return s, fmt.Errorf("parse /proc stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		return s, fmt.Errorf("parse /proc stat utime: %w", err)
	}
	st, err := strconv.ParseFloat(f[12], 64)
	if err != nil {
		return s, fmt.Errorf("parse /proc stat stime: %w", err)
	}
	s.CPU = (ut + st) / clkTck
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSSKiB = n
		case "VmHWM":
			s.HWMKiB = n
		case "Threads":
			s.Threads = int(n)
		}
	}
	return s, nil
}

// ProcWatch samples a process periodically to find the peak RSS over a phase.
type ProcWatch struct {
	pid   int
	start ProcSample
	peak  int64
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	t0    time.Time
}

// ProcDelta is what a process did during a phase.
type ProcDelta struct {
	CPUSec      float64 `json:"cpu_s"`
	CPUPercent  float64 `json:"cpu_pct"` // of one core
	RSSStartMiB float64 `json:"rss_start_mib"`
	RSSEndMiB   float64 `json:"rss_end_mib"`
	RSSPeakMiB  float64 `json:"rss_peak_mib"`
	Threads     int     `json:"threads_end"`
}

// watchProc starts sampling process pid; it returns nil (a valid, inert
// watch) if pid is not set or cannot be read.
func watchProc(pid int) *ProcWatch {
	if pid <= 0 {
		return nil
	}
	s, err := readProc(pid)
	if err != nil {
		return nil
	}
	w := &ProcWatch{pid: pid, start: s, peak: s.RSSKiB, stop: make(chan struct{}), done: make(chan struct{}), t0: time.Now()}
	go func() {
		defer close(w.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				if s, err := readProc(pid); err == nil {
					w.mu.Lock()
					if s.RSSKiB > w.peak {
						w.peak = s.RSSKiB
					}
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// Stop ends the sampling and returns what the process did since watchProc.
func (w *ProcWatch) Stop() *ProcDelta {
	if w == nil {
		return nil
	}
	close(w.stop)
	<-w.done
	s, err := readProc(w.pid)
	if err != nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.RSSKiB > w.peak {
		w.peak = s.RSSKiB
	}
	el := time.Since(w.t0).Seconds()
	cpu := s.CPU - w.start.CPU
	return &ProcDelta{
		CPUSec: round3(cpu), CPUPercent: round1(100 * cpu / el),
		RSSStartMiB: round1(float64(w.start.RSSKiB) / 1024), RSSEndMiB: round1(float64(s.RSSKiB) / 1024),
		RSSPeakMiB: round1(float64(w.peak) / 1024), Threads: s.Threads,
	}
}

func (d *ProcDelta) String() string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("cpu=%.2fs (%.0f%% of a core) rss %.1f->%.1f MiB (peak %.1f)", d.CPUSec, d.CPUPercent, d.RSSStartMiB, d.RSSEndMiB, d.RSSPeakMiB)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// udpDrops returns the kernel's UDP receive-buffer drop counter for this
// network namespace (/proc/net/snmp Udp: RcvbufErrors), or -1 if it cannot
// be read. In a namespace that holds only the hub and the harness it
// attributes loss to full sockets.
func udpDrops() int64 {
	raw, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	return rcvbufErrors(raw)
}

// rcvbufErrors finds RcvbufErrors in the contents of /proc/net/snmp: a
// "Udp:" header line naming the columns, followed by a "Udp:" value line.
func rcvbufErrors(snmp []byte) int64 {
	var hdr []string
	for _, line := range strings.Split(string(snmp), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if hdr == nil {
			hdr = f
			continue
		}
		for i, h := range hdr {
			if h == "RcvbufErrors" && i < len(f) {
				n, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return -1
				}
				return n
			}
		}
		return -1
	}
	return -1
}
