// Package galaxy implements the Kibitz offline ("galaxy") hub descriptor: the
// g1/g2 blob that carries a hub's ICE credentials, DTLS fingerprint, TURN
// credentials and endpoints; the hub identities (the persisted per-device one
// and the public discovery one); and the links and room names built on them.
package galaxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Blob versions.
const (
	V1 = "g1" // no TURN
	V2 = "g2" // with a TURN spec
)

// Endpoint is one "addr~port" entry of a blob. Addr is an IP address or a
// host name (the browser puts it verbatim into an ICE candidate).
type Endpoint struct {
	Addr string
	Port int
}

func (e Endpoint) String() string { return e.Addr + "~" + strconv.Itoa(e.Port) }

// TURN is the g2 TURN spec: UDP port and long-term credentials.
type TURN struct {
	Port int
	User string
	Pass string
}

// Blob is a parsed hub descriptor.
type Blob struct {
	Version     string // V1 or V2
	Ufrag       string
	Pwd         string
	Fingerprint [32]byte // SHA-256 of the hub's DTLS certificate (DER)
	// TURN is nil for g1 and for a g2 blob whose TURN spec is malformed
	// (the browser then ignores TURN but keeps the blob).
	TURN      *TURN
	Endpoints []Endpoint
}

// ErrBadBlob is wrapped by every ParseBlob error.
var ErrBadBlob = errors.New("bad galaxy blob")

// ParseBlob parses a blob with the same rules as the kibitz.chat client:
// trimmed, split on "|", version g1 or g2, non-empty ufrag and pwd, a
// fingerprint that is unpadded base64url of exactly 32 bytes, a g2 TURN spec
// that degrades to "no TURN" when malformed, endpoints split at the last "~"
// (invalid ones skipped) and at least one valid endpoint.
func ParseBlob(s string) (*Blob, error) {
	parts := strings.Split(strings.TrimSpace(s), "|")
	if len(parts) < 5 {
		return nil, fmt.Errorf("%w: %d fields, want at least 5", ErrBadBlob, len(parts))
	}
	b := &Blob{Version: parts[0], Ufrag: parts[1], Pwd: parts[2]}
	if b.Version != V1 && b.Version != V2 {
		return nil, fmt.Errorf("%w: version %q", ErrBadBlob, truncate(b.Version))
	}
	if b.Ufrag == "" || b.Pwd == "" || parts[3] == "" {
		return nil, fmt.Errorf("%w: empty ufrag, pwd or fingerprint", ErrBadBlob)
	}
	fp, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(fp) != 32 {
		return nil, fmt.Errorf("%w: fingerprint %q is not 32 bytes of base64url", ErrBadBlob, truncate(parts[3]))
	}
	copy(b.Fingerprint[:], fp)
	eps := parts[4:]
	if b.Version == V2 {
		b.TURN = parseTURN(parts[4])
		eps = parts[5:]
	}
	for _, raw := range eps {
		if ep, ok := parseEndpoint(raw); ok {
			b.Endpoints = append(b.Endpoints, ep)
		}
	}
	if len(b.Endpoints) == 0 {
		return nil, fmt.Errorf("%w: no valid endpoint", ErrBadBlob)
	}
	return b, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func parsePort(s string) (int, bool) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, false
	}
	return p, true
}

func parseTURN(s string) *TURN {
	f := strings.Split(s, ",")
	if len(f) != 3 || f[1] == "" || f[2] == "" {
		return nil
	}
	port, ok := parsePort(f[0])
	if !ok {
		return nil
	}
	return &TURN{Port: port, User: f[1], Pass: f[2]}
}

func parseEndpoint(s string) (Endpoint, bool) {
	i := strings.LastIndexByte(s, '~')
	if i <= 0 {
		return Endpoint{}, false
	}
	port, ok := parsePort(s[i+1:])
	if !ok {
		return Endpoint{}, false
	}
	return Endpoint{Addr: s[:i], Port: port}, true
}

// String renders the blob: g2 when TURN is set, g1 otherwise.
func (b *Blob) String() string {
	var sb strings.Builder
	if b.TURN != nil {
		sb.WriteString(V2)
	} else {
		sb.WriteString(V1)
	}
	sb.WriteString("|" + b.Ufrag + "|" + b.Pwd + "|" + FingerprintB64(b.Fingerprint))
	if b.TURN != nil {
		fmt.Fprintf(&sb, "|%d,%s,%s", b.TURN.Port, b.TURN.User, b.TURN.Pass)
	}
	for _, ep := range b.Endpoints {
		sb.WriteString("|" + ep.String())
	}
	return sb.String()
}

// FingerprintB64 is the blob form of a fingerprint: unpadded base64url.
func FingerprintB64(fp [32]byte) string { return base64.RawURLEncoding.EncodeToString(fp[:]) }

// FingerprintHex is the SDP form: upper-case hex pairs joined by ":".
func FingerprintHex(fp [32]byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 32*3-1)
	for i, c := range fp {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// KibitzBase is where kibitz.chat links point.
const KibitzBase = "https://kibitz.chat/"

// KibitzLink is the kibitz.chat link that opens room (normalized) through
// the hub described by blob. The blob is not percent-encoded except for "|"
// (%7C), which some link scanners and chat apps would otherwise cut at; the
// client decodes it with URLSearchParams.
func KibitzLink(blob, room string) string {
	return KibitzBase + "?galaxy=" + strings.ReplaceAll(blob, "|", "%7C") + "#" + NormalizeRoom(room)
}

// BlobFromLink extracts the blob from a link with a galaxy= query parameter,
// or returns s itself when it is not such a link.
func BlobFromLink(s string) string {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "galaxy=")
	if i < 0 {
		return s
	}
	rest := s[i+len("galaxy="):]
	if j := strings.IndexAny(rest, "&#"); j >= 0 {
		rest = rest[:j]
	}
	if dec, err := url.QueryUnescape(rest); err == nil {
		return dec
	}
	return rest
}

// MaxRoomLen is the length the client cuts room names to.
const MaxRoomLen = 40

// NormalizeRoom applies the kibitz.chat room rule: lower-case, every run of
// characters outside [a-z0-9] becomes "-", leading and trailing "-" are
// stripped, and the result is cut to 40 characters. It is idempotent.
func NormalizeRoom(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
			continue
		}
		dash = true
	}
	out := sb.String()
	if len(out) > MaxRoomLen {
		out = strings.TrimRight(out[:MaxRoomLen], "-")
	}
	return out
}

// MaxRoomBytes is the longest room name a hub accepts in a join. Every
// name NormalizeRoom makes fits (at most MaxRoomLen ASCII bytes); the rest
// is room for other clients that keep the kibitz.chat rule loosely, and the
// bound keeps hostile clients from using room names as storage.
const MaxRoomBytes = 64

// Errors CheckRoom returns.
var (
	ErrRoomTooLong      = fmt.Errorf("room name longer than %d bytes", MaxRoomBytes)
	ErrRoomNotUTF8      = errors.New("room name is not valid UTF-8")
	ErrRoomNotPrintable = errors.New("room name has a control or other non-printable character")
)

// CheckRoom reports whether a hub accepts name in a join: at most
// MaxRoomBytes bytes of printable UTF-8 (unicode.IsPrint: letters, marks,
// numbers, punctuation, symbols and the ASCII space). The empty name is the
// default room. Anything NormalizeRoom returns passes.
func CheckRoom(name string) error {
	if len(name) > MaxRoomBytes {
		return ErrRoomTooLong
	}
	if !utf8.ValidString(name) {
		return ErrRoomNotUTF8
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return ErrRoomNotPrintable
		}
	}
	return nil
}

// AppLink is the link to our own call app on the box: https://<host>[:port]/#<room>,
// with the port left out when it is 443. The app fetches the blob from the
// same server, so the link carries no secrets.
func AppLink(host string, port int, room string) string {
	hostPort := host
	if port != 443 && port != 0 {
		hostPort = host + ":" + strconv.Itoa(port)
	}
	return "https://" + hostPort + "/#" + NormalizeRoom(room)
}
