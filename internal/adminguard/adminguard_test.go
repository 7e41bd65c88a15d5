package adminguard

import (
	"net"
	"strings"
	"testing"
)

func TestInstallRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Interface: ""},
		{Interface: strings.Repeat("x", 16)},
		{Interface: "wlan0", AllowMACs: []net.HardwareAddr{{1, 2, 3}}},
	} {
		if err := Install(cfg); err == nil {
			t.Errorf("Install(%+v) succeeded", cfg)
		}
	}
}
