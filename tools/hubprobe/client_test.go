package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSynthAnswer(t *testing.T) {
	b, err := ParseBlob("g2|uf|pw|" + testFP64 + "|3478,u,p|127.0.0.1~4711|::1~4712")
	if err != nil {
		t.Fatal(err)
	}
	offer := "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:dc7\r\n"
	ans := SynthAnswer(b, offer, AnswerOpts{})
	for _, line := range []string{
		"a=ice-lite",
		"a=group:BUNDLE dc7",
		"a=mid:dc7",
		"a=ice-ufrag:uf",
		"a=ice-pwd:pw",
		"a=fingerprint:sha-256 " + b.FingerprintHex(),
		"a=setup:passive",
		"a=sctp-port:5000",
		"a=max-message-size:262144",
		"a=candidate:1 1 udp 2130706431 127.0.0.1 4711 typ host",
		"a=candidate:2 1 udp 2130706430 ::1 4712 typ host",
		"a=end-of-candidates",
	} {
		if !strings.Contains(ans, line+"\r\n") {
			t.Errorf("answer lacks %q:\n%s", line, ans)
		}
	}
	ans = SynthAnswer(b, "", AnswerOpts{Setup: "active", MaxMsgSize: -1, SCTPPort: 5001, NoLite: true})
	for _, line := range []string{"a=setup:active", "a=sctp-port:5001", "a=mid:0"} {
		if !strings.Contains(ans, line+"\r\n") {
			t.Errorf("answer lacks %q:\n%s", line, ans)
		}
	}
	for _, line := range []string{"a=ice-lite", "a=max-message-size"} {
		if strings.Contains(ans, line) {
			t.Errorf("answer has %q despite the options:\n%s", line, ans)
		}
	}
}

func TestParseFrame(t *testing.T) {
	at := time.Unix(5, 0)
	f := parseFrame([]byte(`{"t":"from","id":7,"payload":{"k":"hi"}}`), at)
	if f.Bad || f.T != "from" || f.ID != 7 || string(f.Payload) != `{"k":"hi"}` || !f.At.Equal(at) {
		t.Errorf("frame %+v", f)
	}
	f = parseFrame([]byte(`{"t":"peers","ids":[3,1]}`), at)
	if f.Bad || len(f.IDs) != 2 || f.IDs[0] != 3 {
		t.Errorf("peers frame %+v", f)
	}
	for _, raw := range []string{`not json`, `{"t":5}`, `{"t":"to","id":"x"}`} {
		if f := parseFrame([]byte(raw), at); !f.Bad || string(f.Raw) != raw {
			t.Errorf("parseFrame(%s) = %+v, want Bad with Raw kept", raw, f)
		}
	}
}

func TestFrameWithPad(t *testing.T) {
	for _, size := range []int{0, 100, 8192} {
		raw := frameWithPad(42, 9, 123, size)
		if size >= 100 && len(raw) != size {
			t.Errorf("size %d: frame is %d bytes", size, len(raw))
		}
		var f struct {
			T       string `json:"t"`
			ID      int    `json:"id"`
			Payload struct {
				S  int64 `json:"s"`
				TS int64 `json:"ts"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(raw, &f); err != nil || f.T != "to" || f.ID != 42 || f.Payload.S != 9 || f.Payload.TS != 123 {
			t.Errorf("size %d: %s decodes to %+v (%v)", size, raw, f, err)
		}
	}
}
