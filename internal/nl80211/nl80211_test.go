package nl80211

import (
	"bytes"
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Our constants are written from nl80211.h; x/sys/unix is generated from
// the same header, so it is an independent check.
func TestConstantsMatchKernelHeader(t *testing.T) {
	pairs := []struct {
		name     string
		ours, hd int
	}{
		{"CMD_GET_WIPHY", CmdGetWiphy, unix.NL80211_CMD_GET_WIPHY},
		{"CMD_GET_INTERFACE", CmdGetInterface, unix.NL80211_CMD_GET_INTERFACE},
		{"CMD_SET_INTERFACE", CmdSetInterface, unix.NL80211_CMD_SET_INTERFACE},
		{"CMD_START_AP", CmdStartAP, unix.NL80211_CMD_START_AP},
		{"CMD_STOP_AP", CmdStopAP, unix.NL80211_CMD_STOP_AP},
		{"CMD_GET_STATION", CmdGetStation, unix.NL80211_CMD_GET_STATION},
		{"CMD_SET_STATION", CmdSetStation, unix.NL80211_CMD_SET_STATION},
		{"CMD_NEW_STATION", CmdNewStation, unix.NL80211_CMD_NEW_STATION},
		{"CMD_DEL_STATION", CmdDelStation, unix.NL80211_CMD_DEL_STATION},
		{"CMD_SET_BSS", CmdSetBSS, unix.NL80211_CMD_SET_BSS},
		{"CMD_REQ_SET_REG", CmdReqSetReg, unix.NL80211_CMD_REQ_SET_REG},
		{"CMD_REGISTER_FRAME", CmdRegisterFrame, unix.NL80211_CMD_REGISTER_FRAME},
		{"CMD_FRAME", CmdFrame, unix.NL80211_CMD_FRAME},
		{"CMD_FRAME_TX_STATUS", CmdFrameTxStatus, unix.NL80211_CMD_FRAME_TX_STATUS},
		{"ATTR_WIPHY", AttrWiphy, unix.NL80211_ATTR_WIPHY},
		{"ATTR_WIPHY_NAME", AttrWiphyName, unix.NL80211_ATTR_WIPHY_NAME},
		{"ATTR_IFINDEX", AttrIfindex, unix.NL80211_ATTR_IFINDEX},
		{"ATTR_IFNAME", AttrIfname, unix.NL80211_ATTR_IFNAME},
		{"ATTR_IFTYPE", AttrIftype, unix.NL80211_ATTR_IFTYPE},
		{"ATTR_MAC", AttrMAC, unix.NL80211_ATTR_MAC},
		{"ATTR_BEACON_INTERVAL", AttrBeaconInterval, unix.NL80211_ATTR_BEACON_INTERVAL},
		{"ATTR_DTIM_PERIOD", AttrDTIMPeriod, unix.NL80211_ATTR_DTIM_PERIOD},
		{"ATTR_BEACON_HEAD", AttrBeaconHead, unix.NL80211_ATTR_BEACON_HEAD},
		{"ATTR_BEACON_TAIL", AttrBeaconTail, unix.NL80211_ATTR_BEACON_TAIL},
		{"ATTR_STA_AID", AttrStaAID, unix.NL80211_ATTR_STA_AID},
		{"ATTR_STA_LISTEN_INTERVAL", AttrStaListenInterval, unix.NL80211_ATTR_STA_LISTEN_INTERVAL},
		{"ATTR_STA_SUPPORTED_RATES", AttrStaSupportedRates, unix.NL80211_ATTR_STA_SUPPORTED_RATES},
		{"ATTR_STA_INFO", AttrStaInfo, unix.NL80211_ATTR_STA_INFO},
		{"ATTR_WIPHY_BANDS", AttrWiphyBands, unix.NL80211_ATTR_WIPHY_BANDS},
		{"ATTR_SUPPORTED_IFTYPES", AttrSupportedIftypes, unix.NL80211_ATTR_SUPPORTED_IFTYPES},
		{"ATTR_REG_ALPHA2", AttrRegAlpha2, unix.NL80211_ATTR_REG_ALPHA2},
		{"ATTR_WIPHY_FREQ", AttrWiphyFreq, unix.NL80211_ATTR_WIPHY_FREQ},
		{"ATTR_IE", AttrIE, unix.NL80211_ATTR_IE},
		{"ATTR_FRAME", AttrFrame, unix.NL80211_ATTR_FRAME},
		{"ATTR_SSID", AttrSSID, unix.NL80211_ATTR_SSID},
		{"ATTR_AUTH_TYPE", AttrAuthType, unix.NL80211_ATTR_AUTH_TYPE},
		{"ATTR_REASON_CODE", AttrReasonCode, unix.NL80211_ATTR_REASON_CODE},
		{"ATTR_STA_FLAGS2", AttrStaFlags2, unix.NL80211_ATTR_STA_FLAGS2},
		{"ATTR_PRIVACY", AttrPrivacy, unix.NL80211_ATTR_PRIVACY},
		{"ATTR_COOKIE", AttrCookie, unix.NL80211_ATTR_COOKIE},
		{"ATTR_FRAME_MATCH", AttrFrameMatch, unix.NL80211_ATTR_FRAME_MATCH},
		{"ATTR_ACK", AttrAck, unix.NL80211_ATTR_ACK},
		{"ATTR_AP_ISOLATE", AttrAPIsolate, unix.NL80211_ATTR_AP_ISOLATE},
		{"ATTR_FRAME_TYPE", AttrFrameType, unix.NL80211_ATTR_FRAME_TYPE},
		{"ATTR_HIDDEN_SSID", AttrHiddenSSID, unix.NL80211_ATTR_HIDDEN_SSID},
		{"ATTR_IE_PROBE_RESP", AttrIEProbeResp, unix.NL80211_ATTR_IE_PROBE_RESP},
		{"ATTR_IE_ASSOC_RESP", AttrIEAssocResp, unix.NL80211_ATTR_IE_ASSOC_RESP},
		{"ATTR_DEVICE_AP_SME", AttrDeviceAPSME, unix.NL80211_ATTR_DEVICE_AP_SME},
		{"ATTR_DONT_WAIT_FOR_ACK", AttrDontWaitForAck, unix.NL80211_ATTR_DONT_WAIT_FOR_ACK},
		{"ATTR_FEATURE_FLAGS", AttrFeatureFlags, unix.NL80211_ATTR_FEATURE_FLAGS},
		{"ATTR_INACTIVITY_TIMEOUT", AttrInactivityTimeout, unix.NL80211_ATTR_INACTIVITY_TIMEOUT},
		{"ATTR_RX_SIGNAL_DBM", AttrRxSignalDBM, unix.NL80211_ATTR_RX_SIGNAL_DBM},
		{"ATTR_USER_REG_HINT_TYPE", AttrUserRegHintType, unix.NL80211_ATTR_USER_REG_HINT_TYPE},
		{"ATTR_CHANNEL_WIDTH", AttrChannelWidth, unix.NL80211_ATTR_CHANNEL_WIDTH},
		{"ATTR_CENTER_FREQ1", AttrCenterFreq1, unix.NL80211_ATTR_CENTER_FREQ1},
		{"ATTR_SPLIT_WIPHY_DUMP", AttrSplitWiphyDump, unix.NL80211_ATTR_SPLIT_WIPHY_DUMP},
		{"ATTR_MAX_AP_ASSOC_STA", AttrMaxAPAssocSta, unix.NL80211_ATTR_MAX_AP_ASSOC_STA},
		{"ATTR_SOCKET_OWNER", AttrSocketOwner, unix.NL80211_ATTR_SOCKET_OWNER},
		{"ATTR_EXT_FEATURES", AttrExtFeatures, unix.NL80211_ATTR_EXT_FEATURES},
		{"IFTYPE_AP", IftypeAP, unix.NL80211_IFTYPE_AP},
		{"IFTYPE_STATION", IftypeStation, unix.NL80211_IFTYPE_STATION},
		{"STA_FLAG_AUTHORIZED", StaFlagAuthorized, unix.NL80211_STA_FLAG_AUTHORIZED},
		{"STA_FLAG_AUTHENTICATED", StaFlagAuthenticated, unix.NL80211_STA_FLAG_AUTHENTICATED},
		{"STA_FLAG_ASSOCIATED", StaFlagAssociated, unix.NL80211_STA_FLAG_ASSOCIATED},
		{"STA_INFO_INACTIVE_TIME", StaInfoInactiveTime, unix.NL80211_STA_INFO_INACTIVE_TIME},
		{"STA_INFO_SIGNAL", StaInfoSignal, unix.NL80211_STA_INFO_SIGNAL},
		{"STA_INFO_CONNECTED_TIME", StaInfoConnectedTime, unix.NL80211_STA_INFO_CONNECTED_TIME},
		{"STA_INFO_STA_FLAGS", StaInfoStaFlags, unix.NL80211_STA_INFO_STA_FLAGS},
		{"BAND_ATTR_FREQS", BandAttrFreqs, unix.NL80211_BAND_ATTR_FREQS},
		{"FREQUENCY_ATTR_FREQ", FrequencyAttrFreq, unix.NL80211_FREQUENCY_ATTR_FREQ},
		{"FREQUENCY_ATTR_DISABLED", FrequencyAttrDisabled, unix.NL80211_FREQUENCY_ATTR_DISABLED},
		{"FREQUENCY_ATTR_NO_IR", FrequencyAttrNoIR, unix.NL80211_FREQUENCY_ATTR_NO_IR},
		{"FREQUENCY_ATTR_RADAR", FrequencyAttrRadar, unix.NL80211_FREQUENCY_ATTR_RADAR},
		{"FREQUENCY_ATTR_MAX_TX_POWER", FrequencyAttrMaxPower, unix.NL80211_FREQUENCY_ATTR_MAX_TX_POWER},
		{"HIDDEN_SSID_ZERO_LEN", HiddenSSIDZeroLen, unix.NL80211_HIDDEN_SSID_ZERO_LEN},
		{"EXT_FEATURE_4WAY_HANDSHAKE_AP_PSK", ExtFeature4WayHandshakeAPPSK, unix.NL80211_EXT_FEATURE_4WAY_HANDSHAKE_AP_PSK},
		{"EXT_FEATURE_CONTROL_PORT_OVER_NL80211", ExtFeatureControlPortOverNL80211, unix.NL80211_EXT_FEATURE_CONTROL_PORT_OVER_NL80211},
		{"FEATURE_INACTIVITY_TIMER", FeatureInactivityTimer, unix.NL80211_FEATURE_INACTIVITY_TIMER},
	}
	for _, p := range pairs {
		if p.ours != p.hd {
			t.Errorf("NL80211_%s = %d, header says %d", p.name, p.ours, p.hd)
		}
	}
}

// Golden attribute bytes, hand-written: each attribute is a 4-byte header
// (length including header, type; little-endian) and data padded to 4.
func TestEncodeGolden(t *testing.T) {
	reg := unhex(t, `0700 2100 444500 00   0800 9a00 00000000`)
	if got := EncodeReqSetReg("DE"); !bytes.Equal(got, reg) {
		t.Errorf("REQ_SET_REG\n got %x\nwant %x", got, reg)
	}
	frame := unhex(t, `0800 0300 03000000  0800 2600 85090000  0600 3300 b000 0000  0400 8e00`)
	if got := EncodeFrame(3, 2437, []byte{0xb0, 0x00}); !bytes.Equal(got, frame) {
		t.Errorf("FRAME\n got %x\nwant %x", got, frame)
	}
	sta := unhex(t, `
		0800 0300 03000000
		0a00 0600 020000000100 0000
		0600 1300 8284 0000
		0600 1000 0100 0000
		0600 1200 0a00 0000
		0c00 4300 a2000000 a2000000`)
	got := NewStation{Ifindex: 3, MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0}, AID: 1, ListenInterval: 10,
		Rates: []byte{0x82, 0x84}, Authorized: true}.Encode()
	if !bytes.Equal(got, sta) {
		t.Errorf("NEW_STATION\n got %x\nwant %x", got, sta)
	}
	// Unauthorized (an authenticator still has to run): AUTHORIZED in the
	// mask but not in the set.
	got = NewStation{Ifindex: 3, MAC: net.HardwareAddr{2, 0, 0, 0, 1, 0}, AID: 1, ListenInterval: 10,
		Rates: []byte{0x82, 0x84}}.Encode()
	if !bytes.Equal(got[len(got)-8:], unhex(t, "a2000000 a0000000")) {
		t.Errorf("NEW_STATION unauthorized flags %x", got[len(got)-8:])
	}
}

func TestEncodeStartAP(t *testing.T) {
	p := StartAP{Ifindex: 4, BeaconHead: []byte{0x80, 0}, BeaconTail: []byte{0x2a, 1, 0},
		BeaconInterval: 100, DTIMPeriod: 2, SSID: "Kibitz-0000", FreqMHz: 2437, SocketOwner: true}
	want := unhex(t, `
		0800 0300 04000000
		0600 0e00 8000 0000
		0700 0f00 2a0100 00
		0800 0c00 64000000
		0800 0d00 02000000
		0f00 3400 4b696269747a2d30303030 00
		0800 7e00 00000000
		0800 3500 00000000
		0800 2600 85090000
		0800 9f00 00000000
		0800 a000 85090000
		0400 cc00`)
	if got := p.Encode(); !bytes.Equal(got, want) {
		t.Errorf("START_AP\n got %x\nwant %x", got, want)
	}
	p.Hidden, p.Privacy, p.SocketOwner = true, true, false
	got := p.Encode()
	if !bytes.Contains(got, unhex(t, "0800 7e00 01000000")) || !bytes.Contains(got, unhex(t, "0400 4600")) ||
		bytes.Contains(got, unhex(t, "0400 cc00")) {
		t.Errorf("hidden+privacy without owner: %x", got)
	}
}

func attrs(t *testing.T, fn func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStation(t *testing.T) {
	b := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, 3)
		ae.Bytes(AttrMAC, []byte{2, 0, 0, 0, 1, 0})
		ae.Nested(AttrStaInfo, func(n *netlink.AttributeEncoder) error {
			n.Uint32(StaInfoInactiveTime, 1500)
			n.Uint8(StaInfoSignal, 0xd3) // -45 dBm
			n.Uint32(StaInfoConnectedTime, 42)
			n.Bytes(StaInfoStaFlags, staFlagUpdate(1<<StaFlagAuthorized|1<<StaFlagWME, 1<<StaFlagAuthorized))
			return nil
		})
	})
	st, err := ParseStation(b)
	if err != nil {
		t.Fatal(err)
	}
	if st.MAC.String() != "02:00:00:00:01:00" || st.SignalDBm != -45 || st.ConnectedSeconds != 42 ||
		st.InactiveMillis != 1500 || !st.Authorized {
		t.Errorf("station %+v", st)
	}
	if _, err := ParseStation([]byte{1, 2, 3}); err == nil {
		t.Error("garbage station message accepted")
	}
}

func TestWiphyMerge(t *testing.T) {
	msg1 := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrWiphy, 0)
		ae.String(AttrWiphyName, "phy0")
		ae.Nested(AttrSupportedIftypes, func(n *netlink.AttributeEncoder) error {
			n.Flag(IftypeStation, true)
			n.Flag(IftypeAP, true)
			return nil
		})
	})
	msg2 := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrWiphy, 0)
		ae.Nested(AttrWiphyBands, func(bands *netlink.AttributeEncoder) error {
			bands.Nested(0, func(band *netlink.AttributeEncoder) error {
				band.Nested(BandAttrFreqs, func(freqs *netlink.AttributeEncoder) error {
					freqs.Nested(0, func(f *netlink.AttributeEncoder) error {
						f.Uint32(FrequencyAttrFreq, 2412)
						f.Uint32(FrequencyAttrMaxPower, 2000)
						return nil
					})
					freqs.Nested(1, func(f *netlink.AttributeEncoder) error {
						f.Uint32(FrequencyAttrFreq, 2467)
						f.Flag(FrequencyAttrNoIR, true)
						return nil
					})
					return nil
				})
				return nil
			})
			return nil
		})
		ext := make([]byte, 8)
		ext[ExtFeature4WayHandshakeAPPSK/8] |= 1 << (ExtFeature4WayHandshakeAPPSK % 8)
		ae.Bytes(AttrExtFeatures, ext)
		ae.Flag(AttrDeviceAPSME, true)
		ae.Uint32(AttrMaxAPAssocSta, 10)
	})
	w := &Wiphy{Index: -1}
	for _, m := range [][]byte{msg1, msg2} {
		if err := w.merge(m); err != nil {
			t.Fatal(err)
		}
	}
	if w.Name != "phy0" || !w.SupportsAP || !w.APSME || w.MaxAPAssocSta != 10 ||
		!w.HasExtFeature(ExtFeature4WayHandshakeAPPSK) || w.HasExtFeature(ExtFeatureControlPortOverNL80211) {
		t.Errorf("wiphy %+v", w)
	}
	if len(w.Channels) != 2 || !w.Channels[0].Usable() || w.Channels[0].MaxPowerMBm != 2000 || w.Channels[1].Usable() {
		t.Errorf("channels %+v", w.Channels)
	}
}

func TestChannelFreq(t *testing.T) {
	for ch, f := range map[int]int{1: 2412, 6: 2437, 11: 2462, 13: 2472, 14: 2484, 36: 5180, 149: 5745} {
		if got := ChannelToFreq(ch); got != f {
			t.Errorf("ChannelToFreq(%d) = %d, want %d", ch, got, f)
		}
		if got := FreqToChannel(f); got != ch {
			t.Errorf("FreqToChannel(%d) = %d, want %d", f, got, ch)
		}
	}
	if ChannelToFreq(0) != 0 || ChannelToFreq(15) != 0 {
		t.Error("invalid channels got a frequency")
	}
}
