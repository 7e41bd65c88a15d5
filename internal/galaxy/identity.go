package galaxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"path/filepath"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
)

// Identity is what a browser needs to reach a hub besides its address: ICE
// credentials, the DTLS certificate it pins, and TURN credentials.
type Identity struct {
	// Name says which identity this is in logs and metrics
	// ("device" or "discovery").
	Name        string
	Ufrag       string
	Pwd         string
	Certificate tls.Certificate
	Fingerprint [32]byte
	TURNUser    string
	TURNPass    string
}

// Blob builds this identity's blob: g2 when turnPort > 0, g1 otherwise.
func (id *Identity) Blob(turnPort int, endpoints []Endpoint) *Blob {
	b := &Blob{Version: V1, Ufrag: id.Ufrag, Pwd: id.Pwd, Fingerprint: id.Fingerprint, Endpoints: endpoints}
	if turnPort > 0 {
		b.Version = V2
		b.TURN = &TURN{Port: turnPort, User: id.TURNUser, Pass: id.TURNPass}
	}
	return b
}

// Lengths of the random secrets. ICE needs ufrag ≥ 4 and pwd ≥ 22 characters.
const (
	UfragLen    = 8
	PwdLen      = 24
	TURNUserLen = 10
	TURNPassLen = 20
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomAlnum returns n characters from [A-Za-z0-9], so links need no
// escaping (URLSearchParams would turn "+" into a space).
func RandomAlnum(n int) (string, error) {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	// Each round keeps about 97 % of the bytes; 100 rounds never run out.
	for i, round := 0, 0; i < n; round++ {
		if round == 100 {
			return "", errors.New("random secret: rejection sampling did not finish")
		}
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random secret: %w", err)
		}
		for _, c := range buf {
			// 248 = 4*62: reject the top values to stay uniform.
			if c < 248 && i < n {
				out[i] = alnum[int(c)%len(alnum)]
				i++
			}
		}
	}
	return string(out), nil
}

// Fixed certificate validity. A DTLS certificate is pinned by fingerprint and
// browsers do not check its dates, but the Pi boots with a wrong clock, so the
// dates must not come from time.Now.
var (
	certNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewIdentity makes a fresh per-device identity.
func NewIdentity() (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate DTLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kibitzbox-hub"},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create DTLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode DTLS key: %w", err)
	}
	st := identityFile{Version: 1}
	for _, f := range []struct {
		dst *string
		n   int
	}{{&st.Ufrag, UfragLen}, {&st.Pwd, PwdLen}, {&st.TURNUser, TURNUserLen}, {&st.TURNPass, TURNPassLen}} {
		if *f.dst, err = RandomAlnum(f.n); err != nil {
			return nil, err
		}
	}
	st.CertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	st.KeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return st.identity("device")
}

// identityFile is the JSON form of a per-device identity (hub-identity.json).
type identityFile struct {
	Version  int    `json:"version"`
	Ufrag    string `json:"ufrag"`
	Pwd      string `json:"pwd"`
	TURNUser string `json:"turn_user"`
	TURNPass string `json:"turn_pass"`
	CertPEM  string `json:"cert_pem"`
	KeyPEM   string `json:"key_pem"`
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (f *identityFile) identity(name string) (*Identity, error) {
	switch {
	case len(f.Ufrag) < 4 || !isAlnum(f.Ufrag):
		return nil, errors.New("ufrag must be at least 4 alphanumeric characters")
	case len(f.Pwd) < 22 || !isAlnum(f.Pwd):
		return nil, errors.New("pwd must be at least 22 alphanumeric characters")
	case f.TURNUser == "" || !isAlnum(f.TURNUser) || f.TURNPass == "" || !isAlnum(f.TURNPass):
		return nil, errors.New("TURN user and pass must be alphanumeric")
	}
	cert, err := tls.X509KeyPair([]byte(f.CertPEM), []byte(f.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("DTLS certificate: %w", err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		return nil, fmt.Errorf("DTLS key is %T, want ECDSA", cert.PrivateKey)
	}
	return &Identity{
		Name:        name,
		Ufrag:       f.Ufrag,
		Pwd:         f.Pwd,
		Certificate: cert,
		Fingerprint: sha256.Sum256(cert.Certificate[0]),
		TURNUser:    f.TURNUser,
		TURNPass:    f.TURNPass,
	}, nil
}

// IdentityFile is the name of the per-device identity in the state directory.
const IdentityFile = "hub-identity.json"

// LoadOrCreateIdentity returns the per-device identity stored in stateDir,
// creating and storing one if there is none. A corrupt file is moved aside
// and replaced by a new identity; the log then says that old links stop
// working, because they carry the old credentials and fingerprint.
func LoadOrCreateIdentity(stateDir string, log *slog.Logger) (*Identity, error) {
	path := filepath.Join(stateDir, IdentityFile)
	var f identityFile
	var id *Identity
	err := statefile.ReadJSON(path, &f, func() error {
		var err error
		id, err = f.identity("device")
		return err
	})
	var corrupt *statefile.CorruptError
	switch {
	case err == nil:
		return id, nil
	case errors.As(err, &corrupt):
		log.Error("hub identity file is corrupt; making a new identity: links and QR codes printed before stop working",
			"path", path, "moved_to", corrupt.MovedTo, "err", corrupt.Err)
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no hub identity yet; making one", "path", path)
	default:
		return nil, fmt.Errorf("load hub identity: %w", err)
	}
	id, err = NewIdentity()
	if err != nil {
		return nil, err
	}
	if err := saveIdentity(path, id); err != nil {
		return nil, err
	}
	return id, nil
}

func saveIdentity(path string, id *Identity) error {
	key, ok := id.Certificate.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("save identity: key is %T", id.Certificate.PrivateKey)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	f := identityFile{
		Version:  1,
		Ufrag:    id.Ufrag,
		Pwd:      id.Pwd,
		TURNUser: id.TURNUser,
		TURNPass: id.TURNPass,
		CertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Certificate.Certificate[0]})),
		KeyPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})),
	}
	if err := statefile.WriteJSON(path, f, 0o600); err != nil {
		return fmt.Errorf("save hub identity: %w", err)
	}
	return nil
}
