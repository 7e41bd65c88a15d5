package air

// AudioMaxBytes is the largest relayed datagram taken for audio: an Opus
// RTP packet with SRTP and TURN framing stays well below it, while video
// packets fill the path MTU. The pacer never holds or drops these.
const AudioMaxBytes = 300

// Pacer holds one guest's relayed packets to its share. It is a token
// bucket at the share rate whose tokens may go negative down to MaxDelay
// worth of sending: a packet that finds the bucket short is sent after the
// delay the bucket says (a short queue), and one that would wait longer
// than MaxDelay is dropped. Congestion control in the browser sees the
// delay and the loss and settles at the share. Audio-sized packets go at
// once; they use tokens too, so they count against the share.
// A Pacer is not safe for concurrent use.
type Pacer struct {
	rateBps  float64 // bits per second; 0 = unlimited
	tokens   float64 // bytes
	last     int64   // ns of the last update
	burst    float64 // bytes
	maxDebt  float64 // bytes
	Sent     uint64
	Dropped  uint64
	Deferred uint64
}

// Pacer sizing: a burst of 20 ms lets a video frame's packets through
// together; 60 ms of queue is what a call can wait without the picture
// lagging the voice noticeably.
const (
	burstSeconds = 0.020
	MaxDelayNs   = 60e6
	minBurst     = 3 * 1500
)

// SetRate changes the share (0 = unlimited).
func (p *Pacer) SetRate(bps float64) {
	p.rateBps = bps
	bytesPerSec := bps / 8
	p.burst = max(bytesPerSec*burstSeconds, minBurst)
	p.maxDebt = bytesPerSec * MaxDelayNs / 1e9
	p.tokens = min(p.tokens, p.burst)
}

// Offer decides for one packet of size bytes at now (monotonic ns): send
// it after delayNs, or drop it.
func (p *Pacer) Offer(now int64, size int) (delayNs int64, ok bool) {
	if p.rateBps <= 0 {
		p.Sent++
		return 0, true
	}
	if p.last != 0 && now > p.last {
		p.tokens = min(p.burst, p.tokens+float64(now-p.last)*p.rateBps/8/1e9)
	}
	p.last = max(p.last, now)
	n := float64(size)
	if size > AudioMaxBytes && p.tokens-n < 0 {
		if p.tokens-n < -p.maxDebt {
			p.Dropped++
			return 0, false
		}
		p.tokens -= n
		p.Deferred++
		p.Sent++
		return int64(-p.tokens * 8 / p.rateBps * 1e9), true
	}
	// Audio goes now even into debt; the debt it makes delays video.
	p.tokens = max(p.tokens-n, -p.maxDebt)
	p.Sent++
	return 0, true
}

// Meter measures a rate over a sliding window of one second in ten
// steps, cheaply enough to call per packet.
type Meter struct {
	slots [10]uint64
	at    int64 // the slot index (100 ms units) of the newest slot
	total uint64
}

const slotNs = 100e6

// Add counts n bytes at now (monotonic ns).
func (m *Meter) Add(now int64, n int) {
	m.advance(now)
	m.slots[m.at%10] += uint64(n)
	m.total += uint64(n)
}

// Bps is the rate over the last second, in bits per second.
func (m *Meter) Bps(now int64) float64 {
	m.advance(now)
	return float64(m.total) * 8
}

func (m *Meter) advance(now int64) {
	idx := now / slotNs
	if idx <= m.at {
		return
	}
	for i := m.at + 1; i <= idx && i <= m.at+10; i++ {
		m.total -= m.slots[i%10]
		m.slots[i%10] = 0
	}
	m.at = idx
}
