package hubclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

func TestSynthesizeAnswerMatchesTheBrowser(t *testing.T) {
	b, err := galaxy.ParseBlob("g2|uf|pwpwpwpwpwpwpwpwpwpwpwpw|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|3478,u,p|10.42.0.1~4711|192.168.1.5~4711")
	if err != nil {
		t.Fatal(err)
	}
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:data\r\na=mid:other\r\n"
	want := strings.Join([]string{
		"v=0",
		"o=- 1 1 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=ice-lite",
		"a=group:BUNDLE data",
		"a=msid-semantic: WMS",
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
		"c=IN IP4 0.0.0.0",
		"a=ice-ufrag:uf",
		"a=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw",
		"a=fingerprint:sha-256 88:C4:2F:66:8E:F1:EB:5B:A4:51:78:C3:BD:22:67:2A:6A:F7:3C:5C:BA:88:3B:C7:49:AF:57:57:79:9B:FE:40",
		"a=setup:passive",
		"a=mid:data",
		"a=sctp-port:5000",
		"a=max-message-size:262144",
		"a=candidate:1 1 udp 2130706431 10.42.0.1 4711 typ host generation 0",
		"a=candidate:2 1 udp 2130706430 192.168.1.5 4711 typ host generation 0",
	}, "\r\n") + "\r\n"
	if got := SynthesizeAnswer(b, offer); got != want {
		t.Fatalf("answer:\n%s\nwant:\n%s", got, want)
	}
	if got := SynthesizeAnswer(b, "v=0\r\n"); !strings.Contains(got, "a=group:BUNDLE 0\r\n") || !strings.Contains(got, "a=mid:0\r\n") {
		t.Fatalf("default mid not 0:\n%s", got)
	}
}

func TestDialRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, "not a blob"); !errors.Is(err, galaxy.ErrBadBlob) {
		t.Fatalf("bad blob: %v", err)
	}
	// LoopbackOnly never contacts a LAN address.
	blob := "g1|uf|pwpwpwpwpwpwpwpwpwpwpwpw|iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA|10.42.0.1~4711"
	if _, err := Dial(ctx, blob, LoopbackOnly()); err == nil || !strings.Contains(err.Error(), "no usable endpoint") {
		t.Fatalf("non-loopback blob with LoopbackOnly: %v", err)
	}
}
