package guestguard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallRejectsBadInterface(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("x", 16)} {
		if _, err := Install(Config{Interface: name}); err == nil {
			t.Errorf("Install(%q) succeeded", name)
		}
	}
}

func TestDisableForwarding(t *testing.T) {
	proc := t.TempDir()
	for _, p := range []string{"sys/net/ipv4/ip_forward", "sys/net/ipv6/conf/all/forwarding"} {
		path := filepath.Join(proc, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := DisableForwarding(proc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sys/net/ipv4/ip_forward", "sys/net/ipv6/conf/all/forwarding"} {
		if b, _ := os.ReadFile(filepath.Join(proc, p)); strings.TrimSpace(string(b)) != "0" {
			t.Errorf("%s = %q, want 0", p, b)
		}
	}
	// No IPv6 is fine; no IPv4 forwarding switch is not.
	os.RemoveAll(filepath.Join(proc, "sys/net/ipv6"))
	if err := DisableForwarding(proc); err != nil {
		t.Errorf("without IPv6: %v", err)
	}
	if err := DisableForwarding(t.TempDir()); err == nil {
		t.Error("a missing ip_forward was not an error")
	}
}
