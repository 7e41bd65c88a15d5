package galaxy

import (
	"bytes"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiscoveryIdentityMatchesPublishedFingerprint(t *testing.T) {
	id, err := Discovery()
	if err != nil {
		t.Fatal(err)
	}
	if got := FingerprintB64(id.Fingerprint); got != DiscoveryFingerprintB64 {
		t.Fatalf("fingerprint %s, want %s", got, DiscoveryFingerprintB64)
	}
	const hex = "88:C4:2F:66:8E:F1:EB:5B:A4:51:78:C3:BD:22:67:2A:6A:F7:3C:5C:BA:88:3B:C7:49:AF:57:57:79:9B:FE:40"
	if got := FingerprintHex(id.Fingerprint); got != hex {
		t.Fatalf("hex fingerprint %s, want %s", got, hex)
	}
	cert, err := x509.ParseCertificate(id.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "witbitz-lan-hub" {
		t.Fatalf("CN %q", cert.Subject.CommonName)
	}
	want := "g2|wbxlanhub01|774B1GNZgs48OidH45A7DZx|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|3478,wblan,Sp64SHsXMZOdzT6rgYcF|10.42.0.1~4711"
	if got := id.Blob(DiscoveryTURNPort, []Endpoint{{"10.42.0.1", DiscoveryPort}}).String(); got != want {
		t.Fatalf("blob\n got %s\nwant %s", got, want)
	}
}

func TestParseBlob(t *testing.T) {
	fp := "iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA"
	cases := []struct {
		in      string
		ok      bool
		turn    bool
		eps     int
		version string
	}{
		{"g1|uf|pw|" + fp + "|1.2.3.4~4711", true, false, 1, V1},
		{"  g2|uf|pw|" + fp + "|3478,u,p|1.2.3.4~4711|h.local~4711\n", true, true, 2, V2},
		{"g2|uf|pw|" + fp + "|0,u,p|1.2.3.4~4711", true, false, 1, V2},    // bad TURN port degrades
		{"g2|uf|pw|" + fp + "|3478,,p|1.2.3.4~4711", true, false, 1, V2},  // empty user degrades
		{"g2|uf|pw|" + fp + "|3478,u,p|bad|1.2.3.4~9", true, true, 1, V2}, // invalid endpoint skipped
		{"g2|uf|pw|" + fp + "|3478,u,p|a~b~4711", true, true, 1, V2},      // split at the last ~
		{"g1|uf|pw|" + fp + "|~4711", false, false, 0, ""},                // empty addr
		{"g1|uf|pw|" + fp + "|1.2.3.4~65536", false, false, 0, ""},        // port range
		{"g3|uf|pw|" + fp + "|1.2.3.4~1", false, false, 0, ""},            // version
		{"g1||pw|" + fp + "|1.2.3.4~1", false, false, 0, ""},              // empty ufrag
		{"g1|uf|pw|" + fp + "=|1.2.3.4~1", false, false, 0, ""},           // padding
		{"g1|uf|pw|AAAA|1.2.3.4~1", false, false, 0, ""},                  // short fp
		{"g1|uf|pw|" + fp, false, false, 0, ""},                           // too few fields
		{"g2|uf|pw|" + fp + "|3478,u,p", false, false, 0, ""},             // g2 without endpoints
		{"", false, false, 0, ""},
	}
	for _, c := range cases {
		b, err := ParseBlob(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseBlob(%q) err=%v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if (b.TURN != nil) != c.turn || len(b.Endpoints) != c.eps || b.Version != c.version {
			t.Errorf("ParseBlob(%q) = %+v", c.in, b)
		}
	}
	b, err := ParseBlob("g2|uf|pw|" + fp + "|3478,u,p|a~b~4711")
	if err != nil || b.Endpoints[0].Addr != "a~b" || b.Endpoints[0].Port != 4711 {
		t.Fatalf("last-tilde split: %+v %v", b, err)
	}
}

func TestBlobRoundTrip(t *testing.T) {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b := id.Blob(3478, []Endpoint{{"10.42.0.1", 4711}, {"192.168.1.5", 4711}})
	s := b.String()
	back, err := ParseBlob(s)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != s || back.Fingerprint != id.Fingerprint || back.TURN.User != id.TURNUser {
		t.Fatalf("round trip: %s vs %s", back.String(), s)
	}
	if g1 := id.Blob(0, b.Endpoints).String(); !strings.HasPrefix(g1, "g1|") || strings.Contains(g1, ",") {
		t.Fatalf("g1 blob %s", g1)
	}
}

func TestNewIdentitySecrets(t *testing.T) {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Ufrag) < 8 || len(id.Pwd) < 24 || !isAlnum(id.Ufrag+id.Pwd+id.TURNUser+id.TURNPass) {
		t.Fatalf("secrets %q %q %q %q", id.Ufrag, id.Pwd, id.TURNUser, id.TURNPass)
	}
	cert, err := x509.ParseCertificate(id.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotBefore.Equal(certNotBefore) || !cert.NotAfter.Equal(certNotAfter) {
		t.Fatalf("validity %v..%v does not use the fixed dates", cert.NotBefore, cert.NotAfter)
	}
	other, _ := NewIdentity()
	if other.Ufrag == id.Ufrag || other.Fingerprint == id.Fingerprint {
		t.Fatal("two identities are equal")
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := LoadOrCreateIdentity(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateIdentity(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	blob := func(id *Identity) string { return id.Blob(3478, []Endpoint{{"127.0.0.1", 4711}}).String() }
	if blob(a) != blob(b) {
		t.Fatalf("identity changed across loads:\n%s\n%s", blob(a), blob(b))
	}
	path := filepath.Join(dir, IdentityFile)
	if err := os.WriteFile(path, []byte(`{"version":1,"ufrag":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	c, err := LoadOrCreateIdentity(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if blob(c) == blob(a) {
		t.Fatal("corrupt file gave the old identity back")
	}
	if !strings.Contains(logs.String(), "stop working") {
		t.Fatalf("log does not say old links stop working: %s", logs.String())
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("corrupt file not moved aside: %v", matches)
	}
	d, err := LoadOrCreateIdentity(dir, log)
	if err != nil || blob(d) != blob(c) {
		t.Fatalf("new identity not persisted: %v", err)
	}
	// A file with a valid shape but a short pwd is corrupt too.
	if err := os.WriteFile(path, []byte(`{"version":1,"ufrag":"abcd","pwd":"short","turn_user":"u","turn_pass":"p","cert_pem":"","key_pem":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if e, err := LoadOrCreateIdentity(dir, log); err != nil || blob(e) == blob(c) {
		t.Fatalf("invalid identity accepted: %v", err)
	}
}

func TestNormalizeRoom(t *testing.T) {
	for in, want := range map[string]string{
		"My Room":                      "my-room",
		"café ☕ chat":                  "caf-chat",
		"--Lobby--":                    "lobby",
		"":                             "",
		"!!!":                          "",
		"a__b  c":                      "a-b-c",
		strings.Repeat("ab-", 30):      "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-a",
		strings.Repeat("x", 39) + "-y": strings.Repeat("x", 39),
	} {
		got := NormalizeRoom(in)
		if got != want {
			t.Errorf("NormalizeRoom(%q) = %q, want %q", in, got, want)
		}
		if NormalizeRoom(got) != got {
			t.Errorf("NormalizeRoom not idempotent on %q", got)
		}
	}
}

func TestKibitzLink(t *testing.T) {
	blob := "g2|uf|pw|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|3478,u,p|10.42.0.1~4711"
	link := KibitzLink(blob, "Lobby")
	want := "https://kibitz.chat/?galaxy=g2%7Cuf%7Cpw%7CiMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA%7C3478,u,p%7C10.42.0.1~4711#lobby"
	if link != want {
		t.Fatalf("link\n got %s\nwant %s", link, want)
	}
	if got := BlobFromLink(link); got != blob {
		t.Fatalf("BlobFromLink = %s", got)
	}
}

func FuzzParseBlob(f *testing.F) {
	f.Add("g2|wbxlanhub01|774B1GNZgs48OidH45A7DZx|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|3478,wblan,Sp64SHsXMZOdzT6rgYcF|10.42.0.1~4711")
	f.Add("g1|a|b|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|x~1|~|~~~")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBlob(s)
		if err != nil {
			return
		}
		if len(b.Endpoints) == 0 || b.Ufrag == "" || b.Pwd == "" {
			t.Fatalf("accepted blob without endpoint or secrets: %q", s)
		}
		// What we render must parse back to the same blob.
		again, err := ParseBlob(b.String())
		if err != nil {
			t.Fatalf("rendered blob %q does not parse: %v", b.String(), err)
		}
		if again.String() != b.String() {
			t.Fatalf("render not stable: %q vs %q", again.String(), b.String())
		}
	})
}

func TestAppLink(t *testing.T) {
	if got := AppLink("10.42.0.1", 443, "Lobby"); got != "https://10.42.0.1/#lobby" {
		t.Fatal(got)
	}
	if got := AppLink("192.168.1.5", 8443, "my room"); got != "https://192.168.1.5:8443/#my-room" {
		t.Fatal(got)
	}
}

func TestCheckRoom(t *testing.T) {
	ok := []string{"", "lobby", "my-room", "amber-0123456789", "café ☕ chat", "Room 7",
		strings.Repeat("a", MaxRoomBytes), strings.Repeat("é", MaxRoomBytes/2)}
	for _, name := range ok {
		if err := CheckRoom(name); err != nil {
			t.Errorf("CheckRoom(%q) = %v, want accepted", name, err)
		}
	}
	bad := map[string]error{
		strings.Repeat("a", MaxRoomBytes+1):   ErrRoomTooLong,
		strings.Repeat("<", 256):              ErrRoomTooLong,
		strings.Repeat("é", MaxRoomBytes/2+1): ErrRoomTooLong,
		"a\xffb":                              ErrRoomNotUTF8,
		"tab\there":                           ErrRoomNotPrintable,
		"new\nline":                           ErrRoomNotPrintable,
		"nul\x00":                             ErrRoomNotPrintable,
		"bidi\u202eevil":                      ErrRoomNotPrintable,
		"nbsp\u00a0":                          ErrRoomNotPrintable,
	}
	for name, want := range bad {
		if err := CheckRoom(name); !errors.Is(err, want) {
			t.Errorf("CheckRoom(%q) = %v, want %v", name, err, want)
		}
	}
	// Whatever a client makes with the kibitz.chat rule is accepted.
	for _, in := range []string{"My Room", strings.Repeat("Ünïcödé ", 40), strings.Repeat("<", 256), "\x00\x01 x"} {
		if n := NormalizeRoom(in); CheckRoom(n) != nil {
			t.Errorf("normalized %q = %q is refused", in, n)
		}
	}
}
