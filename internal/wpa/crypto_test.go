package wpa

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// IEEE 802.11-2020 Annex J.4.2, PSK test vectors.
func TestPSK(t *testing.T) {
	for _, tc := range []struct{ pass, ssid, want string }{
		{"password", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
		{"ThisIsAPassword", "ThisIsASSID", "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"},
	} {
		got, err := PSK(tc.pass, []byte(tc.ssid))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("PSK(%q, %q) = %x, want %s", tc.pass, tc.ssid, got, tc.want)
		}
	}
}

func TestPSKRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ pass, ssid string }{
		{"short", "ssid"},
		{string(bytes.Repeat([]byte("a"), 64)), "ssid"},
		{"pässwörd1", "ssid"},
		{"password", ""},
		{"password", string(bytes.Repeat([]byte("s"), 33))},
	} {
		if _, err := PSK(tc.pass, []byte(tc.ssid)); err == nil {
			t.Errorf("PSK(%q, %q) accepted", tc.pass, tc.ssid)
		}
	}
}

// IEEE 802.11-2020 Annex J.3.2, PRF (HMAC-SHA1) test vectors.
func TestPRF(t *testing.T) {
	for _, tc := range []struct {
		key        []byte
		label, dat string
		want       string
	}{
		{bytes.Repeat([]byte{0x0b}, 20), "prefix", "Hi There",
			"bcd4c650b30b9684951829e0d75f9d54b862175ed9f00606e17d8da35402ffee75df78c3d31e0f889f012120c0862beb67753e7439ae242edb8373698356cf5a"},
		{[]byte("Jefe"), "prefix", "what do ya want for nothing?",
			"51f4de5b33f249adf81aeb713a3c20f4fe631446fabdfa58244759ae58ef9009a99abf4eac2ca5fa87e692c440eb40023e7babb206d61de7b92f41529092b8fc"},
	} {
		got := PRF(tc.key, tc.label, []byte(tc.dat), 512)
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("PRF(%q) = %x, want %s", tc.label, got, tc.want)
		}
	}
}

// RFC 3394 §4.1 and §4.6 test vectors.
func TestKeyWrap(t *testing.T) {
	for _, tc := range []struct{ kek, plain, wrapped string }{
		{"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
			"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	} {
		kek, plain, want := unhex(t, tc.kek), unhex(t, tc.plain), unhex(t, tc.wrapped)
		got, err := KeyWrap(kek, plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("KeyWrap = %X, want %X", got, want)
		}
		back, err := KeyUnwrap(kek, got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, plain) {
			t.Errorf("KeyUnwrap = %X, want %X", back, plain)
		}
		got[3] ^= 1
		if _, err := KeyUnwrap(kek, got); err != ErrUnwrap {
			t.Errorf("tampered unwrap: err = %v, want ErrUnwrap", err)
		}
	}
}

// The PTK and MIC golden values were computed independently (Python's
// hashlib/hmac following §12.7.1.3), so this checks the nonce/address
// ordering and the split of the PTK.
func TestDerivePTKAndMIC(t *testing.T) {
	pmk := unhex(t, "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e")
	aa := unhex(t, "020000000100")
	spa := unhex(t, "020000000000")
	anonce := bytes.Repeat([]byte{0xaa}, 32)
	snonce := bytes.Repeat([]byte{0x55}, 32)
	ptk := DerivePTK(pmk, aa, spa, anonce, snonce)
	swapped := DerivePTK(pmk, spa, aa, snonce, anonce)
	if !bytes.Equal(ptk.TK, swapped.TK) {
		t.Error("PTK depends on argument order")
	}
	want := goldenPTK
	if got := hex.EncodeToString(append(append(append([]byte{}, ptk.KCK...), ptk.KEK...), ptk.TK...)); got != want {
		t.Errorf("PTK = %s, want %s", got, want)
	}
	if got := hex.EncodeToString(MIC(ptk.KCK, []byte("frame with zero MIC"))); got != goldenMIC {
		t.Errorf("MIC = %s, want %s", got, goldenMIC)
	}
}
