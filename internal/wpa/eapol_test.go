package wpa

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// A message 1 as the authenticator sends it, byte for byte.
const goldenMsg1 = "0203005f" + // EAPOL v2, Key, body 95
	"02" + "008a" + "0010" + "0000000000000001" + // RSN, info (v2|pairwise|ack), key length 16, replay 1
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + // ANonce
	"00000000000000000000000000000000" + "0000000000000000" + "0000000000000000" + // IV, RSC, reserved
	"00000000000000000000000000000000" + "0000" // MIC, key data length

func TestKeyFrameGolden(t *testing.T) {
	f := KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoAck, KeyLength: 16, ReplayCounter: 1}
	copy(f.Nonce[:], bytes.Repeat([]byte{0xaa}, 32))
	got := hex.EncodeToString(f.Marshal())
	if got != goldenMsg1 {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, goldenMsg1)
	}
	back, err := Parse(f.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if back.Info != f.Info || back.ReplayCounter != 1 || back.Nonce != f.Nonce || back.KeyLength != 16 || len(back.Data) != 0 {
		t.Errorf("Parse = %+v", back)
	}
}

func TestKeyFrameWithDataRoundTrip(t *testing.T) {
	f := KeyFrame{Info: KeyInfoVersion2 | KeyInfoMIC, ReplayCounter: 7, Data: RSNE()}
	b := append(f.Marshal(), 0, 0, 0) // link-layer padding is ignored
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Data, RSNE()) {
		t.Errorf("data = %x", back.Data)
	}
}

func TestParseRejects(t *testing.T) {
	good := (&KeyFrame{Info: KeyInfoVersion2, Data: []byte{1, 2, 3}}).Marshal()
	for name, b := range map[string][]byte{
		"empty":        {},
		"header only":  good[:4],
		"not key":      append([]byte{2, 0}, good[2:]...),
		"truncated":    good[:len(good)-1],
		"wrong desc":   append(append([]byte{}, good[:4]...), append([]byte{254}, good[5:]...)...),
		"data len lie": func() []byte { b := bytes.Clone(good); b[4+94] = 200; return b }(),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRSNEAndStationCheck(t *testing.T) {
	want := "30140100000fac040100000fac040100000fac020000"
	if got := hex.EncodeToString(RSNE()); got != want {
		t.Errorf("RSNE = %s, want %s", got, want)
	}
	ies := append([]byte{0, 3, 'a', 'b', 'c'}, RSNE()...)
	if _, err := CheckStationRSNE(ies); err != nil {
		t.Errorf("own RSNE rejected: %v", err)
	}
	tkip := bytes.Clone(RSNE())
	tkip[13] = 2 // pairwise TKIP
	if _, err := CheckStationRSNE(tkip); err == nil {
		t.Error("TKIP station accepted")
	}
	if _, err := CheckStationRSNE([]byte{0, 1, 'x'}); err == nil {
		t.Error("station without RSNE accepted")
	}
}

func TestPadKeyData(t *testing.T) {
	for _, n := range []int{1, 8, 15, 16, 17, 24, 30} {
		p := padKeyData(bytes.Repeat([]byte{1}, n))
		if len(p)%8 != 0 || len(p) < 16 {
			t.Errorf("pad(%d) = %d bytes", n, len(p))
		}
		if len(p) != n && p[n] != 0xdd {
			t.Errorf("pad(%d) does not start with 0xdd", n)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add((&KeyFrame{Info: KeyInfoVersion2 | KeyInfoPairwise | KeyInfoAck, KeyLength: 16, ReplayCounter: 1}).Marshal())
	f.Add((&KeyFrame{Info: KeyInfoVersion2 | KeyInfoMIC, Data: RSNE()}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to the same EAPOL body.
		again, err := Parse(k.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %x: %v", k.Marshal(), err)
		}
		if !bytes.Equal(again.Data, k.Data) || again.Info != k.Info || again.ReplayCounter != k.ReplayCounter {
			t.Fatal("round trip changed the frame")
		}
	})
}
