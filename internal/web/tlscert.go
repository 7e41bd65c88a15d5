package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
)

// Certificate lifetime rules. Apple refuses TLS certificates valid for more
// than 825 days; the phones check validity on their own (correct) clock, so
// the box only has to pick a window that contains "now" for the phones
// without trusting its own clock.
const (
	certValidity = 824 * 24 * time.Hour
	// certBackdate covers phones whose clock is a little behind the build.
	certBackdate = 2 * 24 * time.Hour
	// certRenewBefore: a build whose epoch leaves less than this renews.
	certRenewBefore = 365 * 24 * time.Hour
)

// fallbackEpoch anchors the certificate when the build date is unknown.
// Move it forward now and then so that a fresh box never starts with a
// nearly expired certificate.
var fallbackEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// buildDate (YYYY-MM-DD) is set at link time with
// -ldflags "-X github.com/kibitzbox/kibitzbox/internal/web.buildDate=2026-11-24".
var buildDate string

// BuildDate is the day this program was built (or a fixed early date when
// the build does not say): the clock cannot be right before it.
func BuildDate() time.Time { return certEpoch(time.Time{}) }

// certEpoch is the date the self-signed certificate's validity starts from:
// the configured epoch, else the build date (link-time or VCS time), never
// earlier than fallbackEpoch, and never the clock.
func certEpoch(configured time.Time) time.Time {
	if !configured.IsZero() {
		return configured.UTC().Truncate(24 * time.Hour)
	}
	epoch := fallbackEpoch
	if t, err := time.Parse(time.DateOnly, buildDate); err == nil && t.After(epoch) {
		epoch = t
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key != "vcs.time" {
				continue
			}
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil && t.After(epoch) {
				epoch = t.UTC().Truncate(24 * time.Hour)
			}
		}
	}
	return epoch
}

// certNames are the SANs the self-signed certificate must carry: every
// advertised IP, loopback (for a laptop), HostName and localhost.
func (s *Server) certNames() (ips []net.IP, dns []string) {
	seen := map[netip.Addr]bool{}
	addrs := append(slices.Clone(s.cfg.AdvertiseIPs), netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback())
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || seen[a] {
			continue
		}
		seen[a] = true
		ips = append(ips, net.IP(a.AsSlice()))
	}
	return ips, []string{HostName, "localhost"}
}

// loadCertificate returns the configured real certificate, or the persisted
// self-signed one, creating or renewing it when needed.
func (s *Server) loadCertificate() (tls.Certificate, error) {
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("web: load TLS certificate %s / key %s: %w", s.cfg.TLSCertFile, s.cfg.TLSKeyFile, err)
		}
		s.log.Info("web: using the configured certificate", "cert", s.cfg.TLSCertFile,
			"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
		return cert, nil
	}

	dir := filepath.Join(s.cfg.StateDir, "tls")
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	epoch := certEpoch(s.cfg.CertEpoch)

	cert, err := readKeyPair(certPath, keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info("web: creating the self-signed certificate", "dir", dir)
	case err != nil:
		s.log.Warn("web: the stored certificate is unusable; moving it aside and making a new one", "dir", dir, "err", err)
		moveAside(certPath)
		moveAside(keyPath)
	default:
		reason := s.renewalReason(cert.Leaf, epoch)
		if reason == "" {
			return cert, nil
		}
		s.log.Info("web: renewing the self-signed certificate", "reason", reason)
	}

	certPEM, keyPEM, err := s.makeSelfSigned(epoch)
	if err != nil {
		return tls.Certificate{}, err
	}
	// Key first: a crash between the two writes leaves a mismatched pair,
	// which the next start detects and replaces.
	if err := statefile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("web: save TLS key: %w", err)
	}
	if err := statefile.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("web: save TLS certificate: %w", err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web: reload the new certificate: %w", err)
	}
	return cert, nil
}

// readKeyPair reads and checks the stored pair. A missing pair gives an
// error wrapping fs.ErrNotExist; anything else unusable another error.
func readKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("no certificate in %s: %w", filepath.Dir(certPath), fs.ErrNotExist)
	}
	if certErr != nil {
		return tls.Certificate{}, fmt.Errorf("read %s: %v", certPath, certErr) // %v: a lone missing half is corrupt, not absent
	}
	if keyErr != nil {
		return tls.Certificate{}, fmt.Errorf("read %s: %v", keyPath, keyErr)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse %s and %s: %w", certPath, keyPath, err)
	}
	return cert, nil
}

func moveAside(path string) {
	if _, err := os.Stat(path); err == nil {
		os.Rename(path, fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix()))
	}
}

// renewalReason says why leaf must be replaced, or "" if it is fine.
func (s *Server) renewalReason(leaf *x509.Certificate, epoch time.Time) string {
	wantIPs, wantDNS := s.certNames()
	if !sameIPs(leaf.IPAddresses, wantIPs) || !sameStrings(leaf.DNSNames, wantDNS) {
		return fmt.Sprintf("names changed: have %v %v, want %v %v", leaf.IPAddresses, leaf.DNSNames, wantIPs, wantDNS)
	}
	if leaf.NotAfter.Sub(leaf.NotBefore) > 825*24*time.Hour {
		return "validity longer than 825 days"
	}
	if leaf.NotAfter.Sub(epoch) < certRenewBefore {
		return fmt.Sprintf("expires %s, less than a year after this build's date %s", leaf.NotAfter.Format(time.DateOnly), epoch.Format(time.DateOnly))
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		return "not an ECDSA key"
	}
	return ""
}

func sameIPs(a, b []net.IP) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, x.Equal) {
			return false
		}
	}
	return true
}

func sameStrings(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

// makeSelfSigned creates an ECDSA P-256 key and a self-signed server
// certificate valid from epoch minus certBackdate for certValidity.
func (s *Server) makeSelfSigned(epoch time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("web: generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("web: certificate serial: %w", err)
	}
	ips, dns := s.certNames()
	notBefore := epoch.Add(-certBackdate)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: HostName, Organization: []string{"Kibitz Box"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           ips,
		DNSNames:              dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("web: create self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("web: encode TLS key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// certStore holds the served certificate. A configured (real) certificate
// is re-read when its files change, checked at most every checkEvery, so a
// renewal needs no restart; the self-signed one is fixed.
type certStore struct {
	log               *slog.Logger
	certFile, keyFile string // empty for the self-signed certificate
	checkEvery        time.Duration

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time // monotonic
}

func (c *certStore) current() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.certFile != "" && time.Since(c.checked) >= c.checkEvery {
		c.checked = time.Now()
		c.reloadLocked()
	}
	return c.cert
}

func (c *certStore) reloadLocked() {
	certMod, keyMod := modTime(c.certFile), modTime(c.keyFile)
	if certMod.Equal(c.certMod) && keyMod.Equal(c.keyMod) {
		return
	}
	// Remember these times even on failure: a renewal that has written
	// only one file yet is retried when the other one changes.
	c.certMod, c.keyMod = certMod, keyMod
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Warn("web: the configured certificate changed but does not load; still serving the previous one",
			"cert", c.certFile, "key", c.keyFile, "err", err)
		return
	}
	c.cert = &cert
	c.log.Info("web: reloaded the configured certificate", "cert", c.certFile,
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
}

func modTime(path string) time.Time {
	if fi, err := os.Stat(path); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}
