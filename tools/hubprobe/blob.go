package main

// The blob: the hub's whole descriptor (ICE credentials, certificate
// fingerprint, TURN credentials, endpoints), parsed here independently of
// the hub's own parser.

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Endpoint is one "ip~port" entry of a blob that the harness is allowed to
// contact (loopback only).
type Endpoint struct {
	IP   net.IP
	Port int
}

// UDPAddr is the endpoint as a socket address.
func (e Endpoint) UDPAddr() *net.UDPAddr { return &net.UDPAddr{IP: e.IP, Port: e.Port} }

func (e Endpoint) String() string { return net.JoinHostPort(e.IP.String(), strconv.Itoa(e.Port)) }

// Blob is a parsed hub descriptor:
//
//	g1|ufrag|pwd|fp_b64url|ip~port ...
//	g2|ufrag|pwd|fp_b64url|turnPort,turnUser,turnPass|ip~port ...
type Blob struct {
	Raw       string
	Version   string
	Ufrag     string
	Pwd       string
	FP        []byte // SHA-256 of the hub's DTLS certificate (DER)
	TURNPort  int
	TURNUser  string
	TURNPass  string
	Endpoints []Endpoint // loopback endpoints only, in blob order
	Skipped   []string   // endpoints that were ignored (non-loopback, .local names, ...)
}

// FingerprintHex renders FP as the SDP "sha-256 AA:BB:..." value.
func (b *Blob) FingerprintHex() string { return hexColon(b.FP) }

func hexColon(fp []byte) string {
	parts := make([]string, len(fp))
	for i, c := range fp {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// HasTURN reports whether the blob carries a TURN spec (g2).
func (b *Blob) HasTURN() bool { return b.TURNPort != 0 }

// TURNAddr is the TURN server address on the first loopback endpoint.
func (b *Blob) TURNAddr() string {
	return net.JoinHostPort(b.Endpoints[0].IP.String(), strconv.Itoa(b.TURNPort))
}

// LoadBlob accepts a raw blob, a full "...?galaxy=<blob>" link, a "BLOB <blob>"
// line, or "@path" naming a file that contains any of those.
func LoadBlob(s string) (*Blob, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		raw, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, fmt.Errorf("read blob file: %w", err)
		}
		// Pick the first line that looks like a blob or a link.
		found := ""
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if strings.Contains(line, "g1|") || strings.Contains(line, "g2|") || strings.Contains(line, "galaxy=") {
				found = line
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("no blob found in %s", s[1:])
		}
		s = found
	}
	s = strings.TrimPrefix(s, "BLOB ")
	s = strings.TrimPrefix(s, "LINK ")
	if i := strings.Index(s, "galaxy="); i >= 0 {
		v := s[i+len("galaxy="):]
		if j := strings.IndexAny(v, "&#"); j >= 0 {
			v = v[:j]
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		s = v
	}
	return ParseBlob(s)
}

// ParseBlob parses a g1/g2 blob. Only loopback endpoints are kept; everything
// else is recorded in Skipped and never contacted.
func ParseBlob(s string) (*Blob, error) {
	f := strings.Split(strings.TrimSpace(s), "|")
	if len(f) < 5 {
		return nil, errors.New("blob: too few fields")
	}
	b := &Blob{Raw: s, Version: f[0], Ufrag: f[1], Pwd: f[2]}
	fp, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(f[3], "="))
	if err != nil {
		return nil, fmt.Errorf("blob: fingerprint %q: %w", f[3], err)
	}
	if len(fp) != sha256.Size {
		return nil, fmt.Errorf("blob: fingerprint %q is %d bytes, want %d", f[3], len(fp), sha256.Size)
	}
	b.FP = fp
	rest := f[4:]
	switch b.Version {
	case "g1":
	case "g2":
		spec := strings.Split(rest[0], ",")
		if len(spec) != 3 {
			return nil, fmt.Errorf("blob: bad turn spec %q", rest[0])
		}
		p, err := strconv.Atoi(spec[0])
		if err != nil {
			return nil, fmt.Errorf("blob: turn port %q: %w", spec[0], err)
		}
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("blob: turn port %d out of range", p)
		}
		b.TURNPort, b.TURNUser, b.TURNPass = p, spec[1], spec[2]
		rest = rest[1:]
	default:
		return nil, fmt.Errorf("blob: unknown version %q", b.Version)
	}
	if b.Ufrag == "" || b.Pwd == "" {
		return nil, errors.New("blob: empty ufrag/pwd")
	}
	for _, field := range rest {
		// Endpoints are space separated within a field; fields after the first
		// endpoint field are endpoints too.
		for _, ep := range strings.Fields(field) {
			i := strings.LastIndex(ep, "~")
			if i < 0 {
				b.Skipped = append(b.Skipped, ep+" (malformed)")
				continue
			}
			port, err := strconv.Atoi(ep[i+1:])
			ip := net.ParseIP(ep[:i])
			switch {
			case err != nil || port <= 0 || port > 65535:
				b.Skipped = append(b.Skipped, ep+" (bad port)")
			case ip == nil:
				b.Skipped = append(b.Skipped, ep+" (name, not resolved)")
			case !ip.IsLoopback():
				b.Skipped = append(b.Skipped, ep+" (not loopback)")
			default:
				b.Endpoints = append(b.Endpoints, Endpoint{IP: ip, Port: port})
			}
		}
	}
	if len(b.Endpoints) == 0 {
		return nil, fmt.Errorf("blob: no loopback endpoint (skipped: %v); start the hub with --advertise 127.0.0.1", b.Skipped)
	}
	return b, nil
}

// WithFP returns a copy of the blob with a different fingerprint.
func (b *Blob) WithFP(fp []byte) *Blob { c := *b; c.FP = fp; return &c }

// WithPwd returns a copy of the blob with a different ICE password.
func (b *Blob) WithPwd(pwd string) *Blob { c := *b; c.Pwd = pwd; return &c }
