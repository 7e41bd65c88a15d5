package hub

import (
	"bytes"
	"errors"
	"net"
	"net/netip"

	"github.com/pion/stun/v4"
)

// maxDatagram is the largest UDP payload; reading into a smaller buffer
// would silently truncate.
const maxDatagram = 65535

// readLoop reads the socket and demultiplexes by content and address:
// STUN is answered here, DTLS goes to the address's remote.
func (h *Hub) readLoop() error {
	buf := make([]byte, maxDatagram+1)
	req := new(stun.Message)
	resp := new(stun.Message)
	for {
		n, from, err := h.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		h.handlePacket(buf[:n], from, req, resp)
	}
}

// handlePacket processes one datagram. It never panics on any input (see
// FuzzHandlePacket) and never blocks.
func (h *Hub) handlePacket(pkt []byte, from netip.AddrPort, req, resp *stun.Message) {
	if len(pkt) == 0 {
		h.drops.add(dropUnknownPacket)
		return
	}
	if stun.IsMessage(pkt) {
		h.handleSTUN(pkt, from, req, resp)
		return
	}
	// RFC 7983: 20..63 is DTLS.
	if pkt[0] < 20 || pkt[0] > 63 {
		h.drops.add(dropUnknownPacket)
		return
	}
	h.mu.Lock()
	r := h.remotes[from]
	if r == nil {
		c := h.checked[from]
		if c == nil {
			h.mu.Unlock()
			h.drops.add(dropUnchecked)
			return
		}
		var evict *remote
		var reason string
		r, evict, reason = h.admitLocked(from, c)
		if r == nil {
			h.mu.Unlock()
			h.drops.add(reason)
			return
		}
		h.wg.Add(1)
		go h.serve(r)
		if evict != nil {
			defer evict.close("evicted: too many handshakes or sessions from " + from.Addr().String())
		}
	}
	h.mu.Unlock()
	r.lastSeen.Store(h.now())
	r.deliver(pkt)
}

// handleSTUN answers a Binding request whose USERNAME starts with a known
// ufrag and whose MESSAGE-INTEGRITY verifies with that identity's pwd; the
// address is then allowed to start DTLS with that identity. Everything else
// is dropped silently, as ICE-lite requires.
func (h *Hub) handleSTUN(pkt []byte, from netip.AddrPort, req, resp *stun.Message) {
	req.Reset()
	if _, err := req.Write(pkt); err != nil {
		h.drops.add(dropSTUNMalformed)
		return
	}
	if req.Type != stun.BindingRequest {
		// Binding indications are keepalives: they count as life, nothing more.
		if req.Type == stun.NewType(stun.MethodBinding, stun.ClassIndication) {
			h.touch(from)
			return
		}
		h.drops.add(dropSTUNOther)
		return
	}
	user, err := req.Get(stun.AttrUsername)
	if err != nil {
		h.drops.add(dropSTUNUnknown)
		return
	}
	ufrag := user
	if i := bytes.IndexByte(user, ':'); i >= 0 {
		ufrag = user[:i]
	} else {
		h.drops.add(dropSTUNUnknown)
		return
	}
	ident := h.byUfrag[string(ufrag)]
	if ident == nil {
		h.drops.add(dropSTUNUnknown)
		return
	}
	integrity := stun.NewShortTermIntegrity(ident.Pwd)
	if err := integrity.Check(req); err != nil {
		h.drops.add(dropSTUNIntegrity)
		return
	}
	if h.banned(from.Addr()) {
		h.drops.add(dropBanned)
		return
	}
	if !h.markChecked(from, ident) {
		return
	}
	err = resp.Build(
		stun.NewTransactionIDSetter(req.TransactionID),
		stun.BindingSuccess,
		&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
		integrity,
		stun.Fingerprint,
	)
	if err != nil {
		h.log.Debug("build STUN response", "err", err)
		return
	}
	// Never send more than came in: a check with a forged source must not
	// turn the hub into an amplifier towards that source. Browsers' checks
	// (PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, a long USERNAME) are
	// always bigger than this response.
	if len(resp.Raw) > len(pkt) {
		h.drops.add(dropSTUNAmplify)
		return
	}
	h.conn.WriteToUDPAddrPort(resp.Raw, from)
}

func (h *Hub) touch(from netip.AddrPort) {
	h.mu.Lock()
	r := h.remotes[from]
	h.mu.Unlock()
	if r != nil {
		r.lastSeen.Store(h.now())
	}
}
