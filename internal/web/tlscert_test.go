package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// handshake connects to addr and returns the certificate it presents.
func handshake(t testing.TB, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(dialer(""), "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// TestCertPersistsAndNames: the certificate made on first start is served,
// has the advertised IP and kibitz.home.arpa in its SAN, and the same
// certificate comes back after a restart.
func TestCertPersistsAndNames(t *testing.T) {
	cfg := testConfig(t)
	box := netip.MustParseAddr("10.42.0.1")
	cfg.AdvertiseIPs = []netip.Addr{box, netip.MustParseAddr("192.168.1.5")}

	var fps []string
	for range 2 {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop := runUntilStopped(t, s)
		leaf, err := handshake(t, s.HTTPSAddr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: HostName})
		stop()
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if !slices.ContainsFunc(leaf.IPAddresses, net.ParseIP("10.42.0.1").Equal) ||
			!slices.ContainsFunc(leaf.IPAddresses, net.ParseIP("192.168.1.5").Equal) {
			t.Errorf("SAN IPs %v lack the advertised ones", leaf.IPAddresses)
		}
		if !slices.Contains(leaf.DNSNames, HostName) {
			t.Errorf("SAN names %v lack %s", leaf.DNSNames, HostName)
		}
		// Chains to itself for the box's names: a phone that accepts it
		// once is fine for either.
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		for _, name := range []string{"10.42.0.1", HostName} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: leaf.NotBefore.Add(time.Hour)}); err != nil {
				t.Errorf("verify for %s: %v", name, err)
			}
		}
		if pk, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
			t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
		}
		if fingerprint(leaf) != s.CertFingerprint() {
			t.Errorf("CertFingerprint %s, served %s", s.CertFingerprint(), fingerprint(leaf))
		}
		fps = append(fps, fingerprint(leaf))
	}
	if fps[0] != fps[1] {
		t.Fatalf("certificate changed across restarts: %s then %s", fps[0], fps[1])
	}
	info, err := os.Stat(filepath.Join(cfg.StateDir, "tls", "key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v, want 0600", err, info.Mode())
	}

	// A new advertised address needs a new certificate.
	cfg.AdvertiseIPs = []netip.Addr{netip.MustParseAddr("10.42.0.2")}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.CertFingerprint() == fps[0] {
		t.Errorf("SAN change kept the old certificate")
	}
	if !slices.ContainsFunc(storedCert(t, cfg.StateDir).IPAddresses, net.ParseIP("10.42.0.2").Equal) {
		t.Errorf("stored certificate lacks the new address")
	}
}

// newOffline is New without serving: Close releases the listeners, and a
// Run after Close refuses to start.
func newOffline(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatalf("Run after Close did not fail")
	}
	return s
}

// TestCertValidity: at most 825 days, anchored to the epoch (build date or
// configured), not to the clock; a later build renews only when less than
// a year would be left.
func TestCertValidity(t *testing.T) {
	cfg := testConfig(t)
	newOffline(t, cfg)
	leaf := storedCert(t, cfg.StateDir)
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour {
		t.Errorf("validity %v, more than 825 days", d)
	}
	if want := certEpoch(time.Time{}).Add(-certBackdate); !leaf.NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want the build epoch minus backdate %v", leaf.NotBefore, want)
	}

	// An epoch years away from the clock: the window follows the epoch.
	future := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	cfg = testConfig(t)
	cfg.CertEpoch = future
	first := newOffline(t, cfg).CertFingerprint()
	leaf = storedCert(t, cfg.StateDir)
	if want := time.Date(2031, 4, 29, 0, 0, 0, 0, time.UTC); !leaf.NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want %v (from the epoch, not the clock)", leaf.NotBefore, want)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour || d < 800*24*time.Hour {
		t.Errorf("validity %v", d)
	}

	// An update 300 days later keeps the certificate (guests keep their
	// accepted exception); one 500 days later (less than a year left) renews.
	cfg.CertEpoch = future.AddDate(0, 0, 300)
	if fp := newOffline(t, cfg).CertFingerprint(); fp != first {
		t.Errorf("renewed although more than a year was left")
	}
	cfg.CertEpoch = future.AddDate(0, 0, 500)
	if fp := newOffline(t, cfg).CertFingerprint(); fp == first {
		t.Errorf("kept a certificate with less than a year left")
	}
	if leaf := storedCert(t, cfg.StateDir); !leaf.NotBefore.Equal(future.AddDate(0, 0, 500).Add(-certBackdate)) {
		t.Errorf("renewed NotBefore %v", leaf.NotBefore)
	}
}

// TestTLSVersions: TLS 1.1 is refused, 1.2 and 1.3 work.
func TestTLSVersions(t *testing.T) {
	s := startServer(t, testConfig(t))
	addr := s.HTTPSAddr().String()
	if _, err := handshake(t, addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Errorf("a TLS 1.1 handshake succeeded")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 failed, but not because the server refused the version: %v", err)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if _, err := handshake(t, addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v}); err != nil {
			t.Errorf("TLS %s: %v", tls.VersionName(v), err)
		}
	}
}

// TestCorruptKeyRegenerated: garbage in the key file is moved aside with a
// log line and a new certificate is made; the box still starts.
func TestCorruptKeyRegenerated(t *testing.T) {
	cfg := testConfig(t)
	before := newOffline(t, cfg).CertFingerprint()
	keyPath := filepath.Join(cfg.StateDir, "tls", "key.pem")
	if err := os.WriteFile(keyPath, []byte("-----BEGIN PRIVATE KEY-----\ngarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := startServer(t, cfg)
	if !strings.Contains(logs.String(), "moving it aside") {
		t.Errorf("no log line about the corrupt certificate:\n%s", logs.String())
	}
	if s.CertFingerprint() == before {
		t.Fatalf("kept the certificate whose key is corrupt")
	}
	aside, _ := filepath.Glob(keyPath + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("corrupt key not moved aside: %v", aside)
	}
	if leaf, err := handshake(t, s.HTTPSAddr().String(), &tls.Config{InsecureSkipVerify: true}); err != nil || fingerprint(leaf) != s.CertFingerprint() {
		t.Fatalf("serving with the new certificate: %v", err)
	}

	// A lone certificate without its key is corrupt too, not "absent".
	os.Remove(keyPath)
	if fp := newOffline(t, cfg).CertFingerprint(); fp == s.CertFingerprint() {
		t.Errorf("a certificate without key was kept")
	}
}

// TestRealCertificate: --tls-cert/--tls-key are served as given, and no
// self-signed certificate is made.
func TestRealCertificate(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	// issue writes a CA-signed pair for name, with file times at mtime.
	issue := func(name string, serial int64, mtime time.Time) []byte {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			DNSNames:  []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
		os.Chtimes(certFile, mtime, mtime)
		os.Chtimes(keyFile, mtime, mtime)
		return der
	}
	der := issue("box.example.net", 2, time.Now().Add(-time.Hour))

	cfg := testConfig(t)
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	s := startServer(t, cfg)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	leaf, err := handshake(t, s.HTTPSAddr().String(), &tls.Config{RootCAs: pool, ServerName: "box.example.net"})
	if err != nil {
		t.Fatalf("handshake verifying against the test CA: %v", err)
	}
	if !slices.Equal(leaf.Raw, der) {
		t.Errorf("served a different certificate")
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "tls")); !os.IsNotExist(err) {
		t.Errorf("made a self-signed certificate although a real one was given (%v)", err)
	}

	// A renewal on disk is picked up without a restart; a broken one is
	// logged and the previous certificate stays.
	s.certs.mu.Lock()
	s.certs.checkEvery = 0
	s.certs.mu.Unlock()
	der2 := issue("box.example.net", 3, time.Now())
	leaf, err = handshake(t, s.HTTPSAddr().String(), &tls.Config{RootCAs: pool, ServerName: "box.example.net"})
	if err != nil || !slices.Equal(leaf.Raw, der2) {
		t.Fatalf("renewed certificate not served (err %v)", err)
	}
	os.WriteFile(certFile, []byte("not a certificate"), 0o644)
	os.Chtimes(certFile, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	leaf, err = handshake(t, s.HTTPSAddr().String(), &tls.Config{RootCAs: pool, ServerName: "box.example.net"})
	if err != nil || !slices.Equal(leaf.Raw, der2) {
		t.Fatalf("a broken renewal replaced the working certificate (err %v)", err)
	}

	// Missing files and half a pair are configuration errors.
	cfg.TLSKeyFile = filepath.Join(dir, "missing.pem")
	if _, err := New(cfg); err == nil {
		t.Errorf("New with a missing key file succeeded")
	}
	cfg.TLSKeyFile = ""
	if _, err := New(cfg); err == nil {
		t.Errorf("New with only a certificate file succeeded")
	}
}
