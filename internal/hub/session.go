package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/dtls/v3"
	"github.com/pion/sctp"
	"golang.org/x/time/rate"
)

// SCTP flow control towards one client: the writer stops handing frames to
// SCTP above highWater bytes in flight and resumes below lowWater.
const (
	frameOverhead = 64
	highWater     = 1 << 20
	lowWater      = 512 << 10
)

// session is one browser with an open hub channel.
type session struct {
	hub    *Hub
	r      *remote
	id     int64
	room   string // guarded by router.mu
	assoc  *sctp.Association
	stream *sctp.Stream
	queue  sendQueue
	lowCh  chan struct{}
	// sctpHeld is the part of the hub's send budget this session has in
	// SCTP: written, not yet acknowledged by the client.
	sctpHeld atomic.Int64
	// name is the display name from the app's presence, for the operator.
	name atomic.Pointer[string]
	cam  atomic.Bool

	frameLim *rate.Limiter
	byteLim  *rate.Limiter
	peersLim *rate.Limiter
}

// serve runs one remote from its first DTLS packet to its end.
func (h *Hub) serve(r *remote) {
	defer h.wg.Done()
	reason := "ended"
	defer func() { r.close(reason) }()
	hsTimer := time.AfterFunc(h.lim.HandshakeTimeout, func() { r.close("handshake timeout") })
	defer hsTimer.Stop()
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	r.onDone(cancel)

	dconn, err := dtls.ServerWithOptions(r, r.udpAddr,
		dtls.WithCertificates(r.ident.Certificate),
		// Chrome puts use_srtp on every WebRTC handshake and fails with
		// insufficient_security if the server offers no profile.
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		// Browsers always send a certificate; the hub has nothing to pin it
		// to, so it is requested but not verified.
		dtls.WithClientAuth(dtls.RequestClientCert),
		dtls.WithInsecureSkipVerify(true),
		// The cookie round trip (HelloVerifyRequest, smaller than the
		// ClientHello) comes before the big certificate flight: a STUN
		// check can be sent with a forged source, so only an address that
		// echoes the cookie gets more bytes back than it sent.
		dtls.WithLoggerFactory(h.pion),
	)
	if err != nil {
		h.drops.add(dropHandshake)
		reason = "dtls setup: " + err.Error()
		return
	}
	r.onDone(func() { dconn.Close() })
	if err := dconn.HandshakeContext(ctx); err != nil {
		h.drops.add(dropHandshake)
		reason = "dtls handshake: " + err.Error()
		h.log.Debug("dtls handshake failed", "remote", r.addr.String(), "err", err)
		return
	}
	assoc, err := sctp.ServerWithOptions(
		sctp.WithNetConn(dconn),
		sctp.WithLoggerFactory(h.pion),
		// No RFC 8260 I-DATA: with it pion aborts an association that has
		// 1024 unread messages on a stream, killing a sender's burst.
		sctp.WithEnableInterleaving(false),
		// Outbound room for the envelope around a MaxFrame payload
		// ({"t":"from","id":…} is longer than {"t":"to","id":…}).
		sctp.WithMaxMessageSize(uint32(h.lim.MaxFrame+frameOverhead)),
		sctp.WithMaxReceiveBufferSize(uint32(4*h.lim.MaxFrame+(1<<20))),
	)
	if err != nil {
		h.drops.add(dropHandshake)
		reason = "sctp: " + err.Error()
		return
	}
	r.onDone(func() { assoc.Close() })
	stream, err := assoc.AcceptStream()
	if err != nil {
		reason = "sctp accept: " + err.Error()
		return
	}
	// Server reads the DCEP OPEN and answers with ACK.
	dc, err := datachannel.Server(stream, &datachannel.Config{LoggerFactory: h.pion})
	if err != nil {
		h.drops.add(dropHandshake)
		reason = "dcep: " + err.Error()
		return
	}
	hsTimer.Stop()
	id, err := h.ids.nextID()
	if err != nil {
		reason = err.Error()
		h.log.Error("no hub id", "err", err)
		return
	}
	s := &session{
		hub:      h,
		r:        r,
		id:       id,
		assoc:    assoc,
		stream:   stream,
		lowCh:    make(chan struct{}, 1),
		frameLim: rate.NewLimiter(rate.Limit(h.lim.FrameRate), h.lim.FrameBurst),
		byteLim:  rate.NewLimiter(rate.Limit(h.lim.ByteRate), max(h.lim.ByteBurst, h.lim.MaxFrame)),
		peersLim: rate.NewLimiter(rate.Limit(h.lim.PeersRate), max(1, h.lim.PeersBurst)),
	}
	stream.SetBufferedAmountLowThreshold(lowWater)
	stream.OnBufferedAmountLow(func() {
		select {
		case s.lowCh <- struct{}{}:
		default:
		}
	})
	h.router.add(s)
	r.session.Store(s)
	h.joins.Add(1)
	s.send(idFrame(id))
	h.log.Debug("session open", "id", id, "remote", r.addr.String(), "identity", r.ident.Name, "label", dc.Config.Label)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	reason = s.readLoop()
	r.close(reason)
	<-writerDone
	h.router.remove(s)
	s.releaseBudget()
	h.log.Debug("session closed", "id", id, "reason", r.closeReason())
}

// readLoop reads frames until the channel ends and returns why it ended.
func (s *session) readLoop() string {
	h := s.hub
	buf := make([]byte, 4096)
	for {
		n, ppi, err := s.stream.ReadSCTP(buf)
		data := buf
		if errors.Is(err, io.ErrShortBuffer) {
			// n is the message size; SCTP's receive window bounds it.
			data = make([]byte, n)
			n, ppi, err = s.stream.ReadSCTP(data)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "closed by peer"
			}
			return "read: " + err.Error()
		}
		data = data[:n]
		switch ppi {
		case sctp.PayloadTypeWebRTCString:
		case sctp.PayloadTypeWebRTCDCEP:
			continue // a second channel; only the first is served
		case sctp.PayloadTypeWebRTCBinary, sctp.PayloadTypeWebRTCBinaryEmpty:
			h.drops.add(dropBinary)
			continue
		default:
			h.drops.add(dropMalformed)
			continue
		}
		if n > h.lim.MaxFrame {
			h.drops.add(dropOversize)
			continue
		}
		if !s.throttle(n) {
			return "closed while throttled"
		}
		h.framesIn.Add(1)
		s.handleFrame(data)
	}
}

// throttle delays the reader when the session exceeds its rates.
func (s *session) throttle(n int) bool {
	now := time.Now()
	d := s.frameLim.ReserveN(now, 1).DelayFrom(now)
	if b := s.byteLim.ReserveN(now, n).DelayFrom(now); b > d {
		d = b
	}
	return s.pause(d)
}

// pause sleeps for d unless the session ends first; it reports whether the
// session is still there.
func (s *session) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.r.done:
		return false
	}
}

// wait blocks until lim allows one more event, or the session ends.
func (s *session) wait(lim *rate.Limiter) bool {
	now := time.Now()
	d := lim.ReserveN(now, 1).DelayFrom(now)
	return s.pause(d)
}

func (s *session) handleFrame(data []byte) {
	h := s.hub
	f, err := decodeFrame(data)
	if err != nil {
		switch {
		case errors.Is(err, errUnknownType):
			h.drops.add(dropUnknownType)
		case errors.Is(err, errBadRoom):
			// The session stays where it was, and hears why.
			h.drops.add(dropRoomName)
			s.send(errorFrame(typeJoin, err))
		default:
			h.drops.add(dropMalformed)
		}
		return
	}
	switch f.T {
	case typeJoin:
		room := ""
		if f.Room != nil {
			room = *f.Room
		}
		h.router.joinUnlessLocked(s, room)
	case typePeers:
		// A peers reply costs the hub work in proportion to the room, so
		// it has its own, lower rate (clients poll about once a second).
		if !s.wait(s.peersLim) {
			return
		}
		s.send(h.router.peers(s))
	case typeTo:
		s.notePresence(f.Payload)
		h.router.route(s, *f.ID, f.Payload)
	case typeEcho:
		s.send(echoFrame(f.X))
	}
}

// send queues msg for this session without blocking; a full queue drops
// it, and so does a full hub-wide budget once the session holds more than
// its reserve (queued plus unacknowledged in SCTP).
func (s *session) send(msg []byte) {
	h := s.hub
	n := int64(len(msg))
	held := int64(s.queue.queuedBytes()) + s.sctpHeld.Load()
	if held+n > int64(h.lim.SendReserveBytes) && h.sendHeld.Load()+n > int64(h.lim.SendBudgetBytes) {
		h.drops.add(dropSendBudget)
		return
	}
	if !s.queue.push(msg, h.now(), h.lim.SendQueueBytes, h.lim.SendQueueFrames) {
		h.drops.add(dropQueueFull)
		return
	}
	h.sendHeld.Add(n)
}

// trackSCTP moves the bytes SCTP holds unacknowledged for this session
// into the hub's send budget (they left the queue when written).
func (s *session) trackSCTP() {
	now := int64(s.stream.BufferedAmount())
	if old := s.sctpHeld.Swap(now); old != now {
		s.hub.sendHeld.Add(now - old)
	}
}

// releaseBudget gives back everything the session still holds once it ended.
func (s *session) releaseBudget() {
	h := s.hub
	h.sendHeld.Add(-s.sctpHeld.Swap(0))
	for _, m := range s.queue.close() {
		h.sendHeld.Add(-int64(len(m)))
	}
}

// writeLoop hands queued frames to SCTP, pausing while too much is in
// flight to the client so a slow client only fills its own queue.
func (s *session) writeLoop() {
	h := s.hub
	var batch [][]byte
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	defer func() {
		// Frames taken but never written leave the budget with the session.
		for _, m := range batch {
			h.sendHeld.Add(-int64(len(m)))
		}
	}()
	for {
		select {
		case <-s.queue.notify():
		case <-s.r.done:
			return
		}
		for {
			batch = s.queue.take(batch[:0])
			if len(batch) == 0 {
				break
			}
			for i, msg := range batch {
				for s.overWater() {
					wait.Reset(250 * time.Millisecond)
					select {
					case <-s.lowCh:
					case <-wait.C:
					case <-s.r.done:
						return
					}
				}
				if _, err := s.stream.WriteSCTP(msg, sctp.PayloadTypeWebRTCString); err != nil {
					if errors.Is(err, sctp.ErrOutboundPacketTooLarge) {
						h.drops.add(dropOversize)
						batch[i] = nil
						h.sendHeld.Add(-int64(len(msg)))
						s.queue.wrote(h.now())
						continue
					}
					s.r.close(fmt.Sprintf("write: %v", err))
					return
				}
				batch[i] = nil
				h.sendHeld.Add(-int64(len(msg)))
				s.trackSCTP()
				h.framesOut.Add(1)
				s.queue.wrote(h.now())
			}
		}
	}
}

// overWater reports whether the writer should wait for the client to
// acknowledge: SCTP holds more than highWater for it, or the hub-wide
// budget is spent and this session is beyond its reserve.
func (s *session) overWater() bool {
	s.trackSCTP()
	buffered := s.sctpHeld.Load()
	h := s.hub
	return buffered > highWater ||
		(buffered > int64(h.lim.SendReserveBytes) && h.sendHeld.Load() > int64(h.lim.SendBudgetBytes))
}

// sendQueue is an unbounded-by-type, bounded-by-check FIFO of frames with
// one consumer. It allocates only while frames wait.
type sendQueue struct {
	mu      sync.Mutex
	items   [][]byte
	bytes   int
	closed  bool         // the session ended: push refuses
	pending atomic.Int64 // queued or taken but not yet written
	since   atomic.Int64 // last write, or when pending became non-zero
	ch      chan struct{}
	chOnce  sync.Once
}

func (q *sendQueue) notify() chan struct{} {
	q.chOnce.Do(func() { q.ch = make(chan struct{}, 1) })
	return q.ch
}

func (q *sendQueue) push(msg []byte, now int64, maxBytes, maxFrames int) bool {
	q.mu.Lock()
	if q.closed || len(q.items) >= maxFrames || q.bytes+len(msg) > maxBytes {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, msg)
	q.bytes += len(msg)
	q.mu.Unlock()
	if q.pending.Add(1) == 1 {
		q.since.Store(now)
	}
	select {
	case q.notify() <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued frame into dst.
func (q *sendQueue) take(dst [][]byte) [][]byte {
	q.mu.Lock()
	dst = append(dst, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	if cap(q.items) > 1024 {
		q.items = nil // give back a burst's worth of slots
	}
	q.bytes = 0
	q.mu.Unlock()
	return dst
}

// close refuses further frames and returns those still queued.
func (q *sendQueue) close() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	items := q.items
	q.items, q.bytes = nil, 0
	return items
}

func (q *sendQueue) queuedBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

func (q *sendQueue) wrote(now int64) {
	q.since.Store(now)
	q.pending.Add(-1)
}

// stuckFor is how long frames have waited without any write.
func (q *sendQueue) stuckFor(now int64) int64 {
	if q.pending.Load() <= 0 {
		return 0
	}
	return now - q.since.Load()
}
