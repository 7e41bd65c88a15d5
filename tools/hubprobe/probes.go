package main

// Raw, below-WebRTC probes: a hand-built STUN binding request (to test ICE
// password checking) and a bare DTLS handshake that skips ICE entirely.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/stun/v4"
)

type rawAttr struct {
	t stun.AttrType
	v []byte
}

// AddTo adds the attribute unchanged; pion/stun has no setters for the ICE
// attributes a controlling agent sends.
func (r rawAttr) AddTo(m *stun.Message) error { m.Add(r.t, r.v); return nil }

// StunResult describes what the hub answered to one binding request.
type StunResult struct {
	Answered  bool
	Type      string
	Integrity bool // response MESSAGE-INTEGRITY verifies with the key we used
	Mapped    string
	RTT       time.Duration
}

// stunProbe sends a binding request like a controlling ICE agent would
// (USERNAME hubUfrag:localUfrag, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
// MESSAGE-INTEGRITY keyed with pwd, FINGERPRINT) up to tries times and waits
// for any reply.
func stunProbe(ep Endpoint, username, pwd string, tries int, wait time.Duration) (StunResult, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return StunResult{}, fmt.Errorf("stun probe: listen on loopback: %w", err)
	}
	defer conn.Close()
	prio := make([]byte, 4)
	binary.BigEndian.PutUint32(prio, 1853824767)
	tie := make([]byte, 8)
	_, _ = rand.Read(tie)
	integ := stun.NewShortTermIntegrity(pwd)
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(username),
		rawAttr{stun.AttrPriority, prio},
		rawAttr{stun.AttrICEControlling, tie},
		rawAttr{stun.AttrUseCandidate, nil},
		integ, stun.Fingerprint)
	if err != nil {
		return StunResult{}, fmt.Errorf("stun probe: build binding request: %w", err)
	}
	buf := make([]byte, 1500)
	t0 := time.Now()
	for i := 0; i < tries; i++ {
		if _, err := conn.WriteToUDP(req.Raw, ep.UDPAddr()); err != nil {
			return StunResult{}, fmt.Errorf("stun probe: send to %s: %w", ep, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // deadline: retransmit
			}
			m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.TransactionID != req.TransactionID {
				continue
			}
			r := StunResult{Answered: true, Type: m.Type.String(), RTT: time.Since(t0)}
			r.Integrity = integ.Check(m) == nil
			var xa stun.XORMappedAddress
			if xa.GetFrom(m) == nil {
				r.Mapped = xa.String()
			}
			return r, nil
		}
	}
	return StunResult{}, nil
}

// dtlsWithoutICE tries a DTLS handshake to the hub from a socket that never
// sent a STUN check. Returns the server certificate's SHA-256 if it completed.
func dtlsWithoutICE(ctx context.Context, ep Endpoint, timeout time.Duration) ([]byte, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("dtls probe: listen on loopback: %w", err)
	}
	defer conn.Close()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("dtls probe: certificate: %w", err)
	}
	// Offer what a browser offers, so a hub cannot tell this apart from a
	// real client that merely skipped ICE.
	dc, err := dtls.ClientWithOptions(conn, ep.UDPAddr(),
		dtls.WithCertificates(cert),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
	)
	if err != nil {
		return nil, fmt.Errorf("dtls probe: client to %s: %w", ep, err)
	}
	defer dc.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := dc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("dtls probe: handshake with %s: %w", ep, err)
	}
	st, ok := dc.ConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		return nil, fmt.Errorf("dtls probe: %s sent no certificate", ep)
	}
	sum := sha256.Sum256(st.PeerCertificates[0])
	return sum[:], nil
}
