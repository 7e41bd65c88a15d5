package nl80211

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCryptoConstantsMatchKernelHeader(t *testing.T) {
	pairs := []struct {
		name     string
		ours, hd int
	}{
		{"CMD_SET_KEY", CmdSetKey, unix.NL80211_CMD_SET_KEY},
		{"CMD_NEW_KEY", CmdNewKey, unix.NL80211_CMD_NEW_KEY},
		{"CMD_CONTROL_PORT_FRAME", CmdControlPortFrame, unix.NL80211_CMD_CONTROL_PORT_FRAME},
		{"ATTR_KEY_DATA", AttrKeyData, unix.NL80211_ATTR_KEY_DATA},
		{"ATTR_KEY_IDX", AttrKeyIdx, unix.NL80211_ATTR_KEY_IDX},
		{"ATTR_KEY_CIPHER", AttrKeyCipher, unix.NL80211_ATTR_KEY_CIPHER},
		{"ATTR_KEY_SEQ", AttrKeySeq, unix.NL80211_ATTR_KEY_SEQ},
		{"ATTR_KEY_TYPE", AttrKeyType, unix.NL80211_ATTR_KEY_TYPE},
		{"ATTR_CIPHER_SUITES_PAIRWISE", AttrCiphersPairwise, unix.NL80211_ATTR_CIPHER_SUITES_PAIRWISE},
		{"ATTR_CIPHER_SUITE_GROUP", AttrCipherGroup, unix.NL80211_ATTR_CIPHER_SUITE_GROUP},
		{"ATTR_WPA_VERSIONS", AttrWPAVersions, unix.NL80211_ATTR_WPA_VERSIONS},
		{"ATTR_AKM_SUITES", AttrAKMSuites, unix.NL80211_ATTR_AKM_SUITES},
		{"ATTR_KEY", AttrKey, unix.NL80211_ATTR_KEY},
		{"ATTR_CONTROL_PORT", AttrControlPort, unix.NL80211_ATTR_CONTROL_PORT},
		{"ATTR_CONTROL_PORT_ETHERTYPE", AttrControlPortEthertype, unix.NL80211_ATTR_CONTROL_PORT_ETHERTYPE},
		{"ATTR_CONTROL_PORT_NO_ENCRYPT", AttrControlPortNoEncrypt, unix.NL80211_ATTR_CONTROL_PORT_NO_ENCRYPT},
		{"ATTR_PMK", AttrPMK, unix.NL80211_ATTR_PMK},
		{"ATTR_CONTROL_PORT_OVER_NL80211", AttrControlPortOverNL80211, unix.NL80211_ATTR_CONTROL_PORT_OVER_NL80211},
		{"KEY_DATA", KeyData, unix.NL80211_KEY_DATA},
		{"KEY_IDX", KeyIdx, unix.NL80211_KEY_IDX},
		{"KEY_CIPHER", KeyCipher, unix.NL80211_KEY_CIPHER},
		{"KEY_SEQ", KeySeq, unix.NL80211_KEY_SEQ},
		{"KEY_DEFAULT", KeyDefault, unix.NL80211_KEY_DEFAULT},
		{"KEY_TYPE", KeyType, unix.NL80211_KEY_TYPE},
		{"KEY_DEFAULT_TYPES", KeyDefaultTypes, unix.NL80211_KEY_DEFAULT_TYPES},
		{"KEYTYPE_PAIRWISE", KeyTypePairwise, unix.NL80211_KEYTYPE_PAIRWISE},
		{"KEY_DEFAULT_TYPE_MULTICAST", KeyDefaultTypeMulticast, unix.NL80211_KEY_DEFAULT_TYPE_MULTICAST},
		{"WPA_VERSION_2", WPAVersion2, unix.NL80211_WPA_VERSION_2},
	}
	for _, p := range pairs {
		if p.ours != p.hd {
			t.Errorf("NL80211_%s = %d, header says %d", p.name, p.ours, p.hd)
		}
	}
}

var sta = net.HardwareAddr{2, 0, 0, 0, 1, 0}

// Hand-written golden bytes; nested attributes carry NLA_F_NESTED (0x8000).
func TestEncodeKeysGolden(t *testing.T) {
	tk := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	want := unhex(t, `
		0800 0300 03000000
		0a00 0600 020000000100 0000
		3000 5080
		  1400 0100 000102030405060708090a0b0c0d0e0f
		  0500 0200 00 000000
		  0800 0300 04ac0f00
		  0800 0700 01000000`)
	if got := (Key{Ifindex: 3, MAC: sta, Cipher: CipherCCMP, Data: tk}).Encode(); !bytes.Equal(got, want) {
		t.Errorf("NEW_KEY pairwise\n got %x\nwant %x", got, want)
	}
	want = unhex(t, `
		0800 0300 03000000
		3c00 5080
		  1400 0100 000102030405060708090a0b0c0d0e0f
		  0500 0200 01 000000
		  0800 0300 04ac0f00
		  0a00 0400 000000000000 0000
		  0800 0700 00000000`)
	got := Key{Ifindex: 3, Index: 1, Cipher: CipherCCMP, Data: tk, Seq: make([]byte, 6)}.Encode()
	if !bytes.Equal(got, want) {
		t.Errorf("NEW_KEY group\n got %x\nwant %x", got, want)
	}
	want = unhex(t, `
		0800 0300 03000000
		1800 5080
		  0500 0200 01 000000
		  0400 0500
		  0800 0880 0400 0200`)
	if got := EncodeDefaultGroupKey(3, 1); !bytes.Equal(got, want) {
		t.Errorf("SET_KEY default\n got %x\nwant %x", got, want)
	}
	want = unhex(t, `
		0800 0300 03000000
		0700 3300 010203 00
		0a00 0600 020000000100 0000
		0600 6600 8e88 0000
		0400 6700
		0400 8e00`)
	if got := EncodeControlPortFrame(3, sta, []byte{1, 2, 3}, true); !bytes.Equal(got, want) {
		t.Errorf("CONTROL_PORT_FRAME\n got %x\nwant %x", got, want)
	}
}

func TestEncodeStartAPWithRSN(t *testing.T) {
	p := StartAP{Ifindex: 4, BeaconHead: []byte{0x80, 0}, BeaconInterval: 100, DTIMPeriod: 2,
		SSID: "K", FreqMHz: 2437, SocketOwner: true,
		RSN: &RSN{Pairwise: CipherCCMP, Group: CipherCCMP, AKM: AKMPSK, ControlPortOverNL80211: true}}
	got := p.Encode()
	want := unhex(t, `
		0400 4600
		0800 2600 85090000
		0800 9f00 00000000
		0800 a000 85090000
		0800 4b00 02000000
		0800 4900 04ac0f00
		0800 4a00 04ac0f00
		0800 4c00 02ac0f00
		0400 4400
		0600 6600 8e88 0000
		0400 0801
		0400 cc00`)
	if !bytes.HasSuffix(got, want) {
		t.Errorf("START_AP with RSN\n got %x\nwant suffix %x", got, want)
	}
	p.RSN.PMK = bytes.Repeat([]byte{0xaa}, 32)
	if got := p.Encode(); !bytes.Contains(got, append(unhex(t, "2400 fe00"), p.RSN.PMK...)) {
		t.Errorf("START_AP with PMK lacks it: %x", got)
	}
}
