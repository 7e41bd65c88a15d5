package instance

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWebCertGrowsWithTheSameKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web-tls")
	first, err := EnsureWebCert(dir, []string{"kibitzbox", "kibitzbox.local"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.New {
		t.Error("the first call made no new certificate")
	}
	if fi, err := os.Stat(first.Key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %v, %v: want mode 0600", fi, err)
	}
	key1, _ := os.ReadFile(first.Key)
	cert1, _ := os.ReadFile(first.Cert)
	verify(t, first, "kibitzbox")
	verify(t, first, "kibitzbox.local")

	// Names it already has: nothing changes on disk.
	again, err := EnsureWebCert(dir, []string{"kibitzbox.local"})
	if err != nil {
		t.Fatal(err)
	}
	if again.New {
		t.Error("asking for a name the certificate has made a new one")
	}
	if cert, _ := os.ReadFile(first.Cert); string(cert) != string(cert1) {
		t.Error("the certificate file changed although no name was added")
	}

	// An address it does not have: the same key, one more name, the old
	// names kept.
	grown, err := EnsureWebCert(dir, []string{"192.0.2.23"})
	if err != nil {
		t.Fatal(err)
	}
	if !grown.New {
		t.Error("adding an address made no new certificate")
	}
	if key, _ := os.ReadFile(first.Key); string(key) != string(key1) {
		t.Error("the key changed: the box's identity must stay")
	}
	if want := []string{"kibitzbox", "kibitzbox.local", "192.0.2.23"}; !slices.Equal(grown.Names, want) {
		t.Errorf("names %q, want %q", grown.Names, want)
	}
	verify(t, grown, "192.0.2.23")
	if again, err := EnsureWebCert(dir, []string{"2001:DB8::0:1", "2001:db8::1"}); err != nil || !again.New {
		t.Fatalf("adding an IPv6 address: %+v, %v", again, err)
	}
	if again, err := EnsureWebCert(dir, []string{"2001:db8:0::1"}); err != nil || again.New {
		t.Errorf("the same IPv6 address written another way made a new certificate: %+v, %v", again, err)
	}
	verify(t, grown, "kibitzbox")
	if err := verifyErr(grown, "192.0.2.24"); err == nil {
		t.Error("the certificate verifies for an address it was not issued for")
	}
}

func TestWebCertRefusesABrokenKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := EnsureWebCert(dir, []string{"kibitzbox"})
	if err == nil || !strings.Contains(err.Error(), "key.pem") {
		t.Fatalf("EnsureWebCert with a corrupt key: %v, want an error naming key.pem", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "key.pem")); string(b) != "not a key" {
		t.Error("the corrupt key was overwritten")
	}
	if _, err := EnsureWebCert(t.TempDir(), nil); err == nil {
		t.Error("no names: no error")
	}
}

// verify checks that a client trusting only wc's certificate (what gok
// update does with UseTLS "<cert>,<key>") accepts it for name.
func verify(t *testing.T, wc WebCert, name string) {
	t.Helper()
	if err := verifyErr(wc, name); err != nil {
		t.Errorf("certificate for %s: %v", name, err)
	}
}

func verifyErr(wc WebCert, name string) error {
	pair, err := tls.LoadX509KeyPair(wc.Cert, wc.Key)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
	return err
}

func TestTrustWebCertForTheUpdateHost(t *testing.T) {
	src := t.TempDir()
	cfg := `{"Hostname": "kibitzbox", "Update": {"HTTPPort": "8880"}}`
	if err := os.WriteFile(filepath.Join(src, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if host, err := UpdateHost(src); err != nil || host != "kibitzbox" {
		t.Errorf("UpdateHost without Update.Hostname = %q, %v; want the hostname", host, err)
	}
	cfg = `{"Hostname": "kibitzbox", "Update": {"Hostname": "192.0.2.23"}}`
	if err := os.WriteFile(filepath.Join(src, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	host, err := UpdateHost(src)
	if err != nil || host != "192.0.2.23" {
		t.Fatalf("UpdateHost = %q, %v; want 192.0.2.23", host, err)
	}
	wc, err := EnsureWebCert(filepath.Join(t.TempDir(), "tls"), []string{host})
	if err != nil {
		t.Fatal(err)
	}
	xdg := t.TempDir()
	if err := TrustWebCert(xdg, host, wc); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(xdg, "gokrazy", "hosts", host, "cert.pem"))
	want, _ := os.ReadFile(wc.Cert)
	if err != nil || string(got) != string(want) {
		t.Errorf("hosts/%s/cert.pem: %v; want a copy of the certificate", host, err)
	}
	if err := TrustWebCert(xdg, "../x", wc); err == nil {
		t.Error("an update host with a path separator was accepted")
	}
}
