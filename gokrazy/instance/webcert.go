package instance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
)

// WebCert is the certificate of gokrazy's web UI (admin and update API),
// made by us rather than by gok: gok's own self-signed one names only the
// hostname, so `gok update` to the box's IP address could never verify it.
type WebCert struct {
	Cert, Key string // PEM files
	// Names are the DNS names and IP addresses the certificate is valid for.
	Names []string
	// New is true when this call created the certificate or added a name:
	// a box built earlier does not serve it yet.
	New bool
}

// Validity: Apple's clients refuse server certificates valid for more
// than 825 days, and every make image or make update re-issues one with
// less than a year left (same key), so a box that is updated now and then
// never serves an expired one.
const (
	webCertLifetime    = 824 * 24 * time.Hour
	webCertBackdate    = 2 * 24 * time.Hour
	webCertRenewBefore = 365 * 24 * time.Hour
)

// EnsureWebCert keeps the certificate in dir (cert.pem, key.pem) valid
// for names: it creates key and certificate the first time, and re-issues
// the certificate with the same key when a name is missing or it has less
// than a year left, so the box's identity stays the same. A key it cannot
// read is an error, never replaced: it is the box's identity.
func EnsureWebCert(dir string, names []string) (WebCert, error) {
	wc := WebCert{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if len(names) == 0 {
		return wc, errors.New("web certificate: no names")
	}
	names = slices.Clone(names)
	for i, n := range names {
		if n == "" {
			return wc, fmt.Errorf("web certificate: empty name in %q", names)
		}
		// Addresses in the form the certificate gives them back.
		if ip := net.ParseIP(n); ip != nil {
			names[i] = ip.String()
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return wc, fmt.Errorf("web certificate: %w", err)
	}
	key, err := loadKey(wc.Key)
	if errors.Is(err, os.ErrNotExist) {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return wc, fmt.Errorf("web certificate: generating a key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return wc, fmt.Errorf("web certificate: encoding the key: %w", err)
		}
		if err := statefile.WriteFile(wc.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return wc, err
		}
	} else if err != nil {
		return wc, err
	}

	var have []string
	if cert, err := loadCert(wc.Cert); err == nil && key.PublicKey.Equal(cert.PublicKey) {
		have = certNames(cert)
		fresh := time.Until(cert.NotAfter) > webCertRenewBefore
		if fresh && !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(have, n) }) {
			wc.Names = have
			return wc, nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return wc, fmt.Errorf("%w (remove it to issue a new one for the same key)", err)
	}
	// Names only grow: an update by an address named before must keep
	// verifying.
	wc.Names = slices.Clone(have)
	for _, n := range names {
		if !slices.Contains(wc.Names, n) {
			wc.Names = append(wc.Names, n)
		}
	}
	der, err := issue(key, wc.Names)
	if err != nil {
		return wc, err
	}
	if err := statefile.WriteFile(wc.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return wc, err
	}
	wc.New = true
	return wc, nil
}

func issue(key *ecdsa.PrivateKey, names []string) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("web certificate: serial: %w", err)
	}
	now := time.Now().Add(-webCertBackdate)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"kibitzbox"}, CommonName: names[0]},
		NotBefore:             now,
		NotAfter:              now.Add(webCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("web certificate: signing for %q: %w", names, err)
	}
	return der, nil
}

// certNames lists a certificate's DNS names and IP addresses.
func certNames(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("web certificate: key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("web certificate: key %s is a %T, want ECDSA", path, k)
	}
	return ec, nil
}

func loadCert(path string) (*x509.Certificate, error) {
	block, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("web certificate: %s: %w", path, err)
	}
	return c, nil
}

func readPEM(path, typ string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("web certificate: %s holds no PEM %s", path, typ)
	}
	return block, nil
}

// TrustWebCert makes gok trust wc when it talks to host: gok update only
// trusts $XDG_CONFIG_HOME/gokrazy/hosts/<host>/cert.pem (it drops UseTLS
// when it reads the update settings), so the certificate is copied there
// for the update host. gokConfig is gok's XDG_CONFIG_HOME.
func TrustWebCert(gokConfig, host string, wc WebCert) error {
	if host == "" || strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return fmt.Errorf("web certificate: bad update host %q", host)
	}
	data, err := os.ReadFile(wc.Cert)
	if err != nil {
		return fmt.Errorf("web certificate: %w", err)
	}
	return statefile.WriteFile(filepath.Join(gokConfig, "gokrazy", "hosts", host, "cert.pem"), data, 0o644)
}

// UpdateHost is the host gok update talks to for the instance in dir:
// Update.Hostname, else Hostname.
func UpdateHost(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", fmt.Errorf("reading instance config: %w", err)
	}
	var cfg struct {
		Hostname string
		Update   struct{ Hostname string }
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("decoding %s: %w", filepath.Join(dir, "config.json"), err)
	}
	if cfg.Update.Hostname != "" {
		return cfg.Update.Hostname, nil
	}
	return cfg.Hostname, nil
}
