package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testFP is a made-up certificate fingerprint: the bytes 0..31.
var testFP = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

var testFP64 = base64.RawURLEncoding.EncodeToString(testFP)

func TestParseBlobG1(t *testing.T) {
	b, err := ParseBlob("g1|uf|pw|" + testFP64 + "|127.0.0.1~4711")
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != "g1" || b.Ufrag != "uf" || b.Pwd != "pw" || !bytes.Equal(b.FP, testFP) {
		t.Fatalf("parsed %+v", b)
	}
	if b.HasTURN() {
		t.Error("a g1 blob reports TURN")
	}
	if len(b.Endpoints) != 1 || !b.Endpoints[0].IP.Equal(net.IPv4(127, 0, 0, 1)) || b.Endpoints[0].Port != 4711 {
		t.Fatalf("endpoints %v", b.Endpoints)
	}
	if got := b.Endpoints[0].String(); got != "127.0.0.1:4711" {
		t.Errorf("endpoint string %q", got)
	}
	if got, want := b.FingerprintHex(), "00:01:02:03"; !strings.HasPrefix(got, want) || len(got) != 32*3-1 {
		t.Errorf("fingerprint hex %q", got)
	}
}

func TestParseBlobG2KeepsOnlyLoopback(t *testing.T) {
	// Endpoints may come one per |-field or space-separated in one field;
	// everything that is not a loopback IP must be skipped, never dialled.
	raw := "g2|uf|pw|" + testFP64 + "|3478,user,pass|10.42.0.1~4711|box.local~4711 127.0.0.1~4711|[::1]~9|::1~4712|bad|127.0.0.2~0"
	b, err := ParseBlob(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasTURN() || b.TURNPort != 3478 || b.TURNUser != "user" || b.TURNPass != "pass" {
		t.Fatalf("turn %d %q %q", b.TURNPort, b.TURNUser, b.TURNPass)
	}
	var eps []string
	for _, e := range b.Endpoints {
		eps = append(eps, e.String())
	}
	if got, want := strings.Join(eps, " "), "127.0.0.1:4711 [::1]:4712"; got != want {
		t.Errorf("endpoints %q, want %q", got, want)
	}
	if got := b.TURNAddr(); got != "127.0.0.1:3478" {
		t.Errorf("TURN address %q", got)
	}
	want := []string{"10.42.0.1~4711 (not loopback)", "box.local~4711 (name, not resolved)", "[::1]~9 (name, not resolved)", "bad (malformed)", "127.0.0.2~0 (bad port)"}
	if strings.Join(b.Skipped, ";") != strings.Join(want, ";") {
		t.Errorf("skipped %q, want %q", b.Skipped, want)
	}
}

func TestParseBlobErrors(t *testing.T) {
	for _, tc := range []struct{ name, blob, want string }{
		{"too few fields", "g1|uf|pw|" + testFP64, "too few fields"},
		{"unknown version", "g9|uf|pw|" + testFP64 + "|127.0.0.1~1", "unknown version"},
		{"fingerprint not base64url", "g1|uf|pw|***|127.0.0.1~1", "fingerprint"},
		{"fingerprint too short", "g1|uf|pw|AAAA|127.0.0.1~1", "is 3 bytes"},
		{"empty pwd", "g1|uf||" + testFP64 + "|127.0.0.1~1", "empty ufrag/pwd"},
		{"turn spec", "g2|uf|pw|" + testFP64 + "|3478,user|127.0.0.1~1", "bad turn spec"},
		{"turn port", "g2|uf|pw|" + testFP64 + "|x,user,pass|127.0.0.1~1", "turn port"},
		{"turn port range", "g2|uf|pw|" + testFP64 + "|70000,user,pass|127.0.0.1~1", "out of range"},
		{"no loopback", "g1|uf|pw|" + testFP64 + "|192.168.1.2~4711", "no loopback endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBlob(tc.blob)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadBlobForms(t *testing.T) {
	raw := "g1|uf|pw|" + testFP64 + "|127.0.0.1~4711"
	file := filepath.Join(t.TempDir(), "relay-link.txt")
	if err := os.WriteFile(file, []byte("# a comment\n\nLINK https://10.42.0.1/?galaxy="+strings.ReplaceAll(raw, "|", "%7C")+"&room=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		raw,
		"  " + raw + "\n",
		"BLOB " + raw,
		"https://box/?galaxy=" + strings.ReplaceAll(raw, "|", "%7C") + "#frag",
		"@" + file,
	} {
		b, err := LoadBlob(in)
		if err != nil {
			t.Errorf("LoadBlob(%q): %v", in, err)
			continue
		}
		if b.Raw != raw {
			t.Errorf("LoadBlob(%q) parsed %q", in, b.Raw)
		}
	}
	if _, err := LoadBlob("@" + filepath.Join(t.TempDir(), "missing")); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("nothing here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBlob("@" + empty); err == nil || !strings.Contains(err.Error(), "no blob found") {
		t.Errorf("file without a blob: %v", err)
	}
}

func TestBlobCopies(t *testing.T) {
	b, err := ParseBlob("g1|uf|pw|" + testFP64 + "|127.0.0.1~4711")
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	if c := b.WithFP(other); !bytes.Equal(c.FP, other) || !bytes.Equal(b.FP, testFP) {
		t.Error("WithFP changed the original or not the copy")
	}
	if c := b.WithPwd("x"); c.Pwd != "x" || b.Pwd != "pw" {
		t.Error("WithPwd changed the original or not the copy")
	}
}
