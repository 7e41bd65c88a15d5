package nl80211

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/mdlayher/netlink"
)

// Messages and attributes for WPA2 (issue 8): RSN settings in START_AP,
// key installation, and EAPOL over the control port. The open AP does not
// use them yet; they are here so that an authenticator needs nothing else
// from this package. Values from nl80211.h, checked against x/sys/unix.
const (
	CmdSetKey           = 10
	CmdNewKey           = 11
	CmdControlPortFrame = 129

	AttrKeyData                = 7
	AttrKeyIdx                 = 8
	AttrKeyCipher              = 9
	AttrKeySeq                 = 10
	AttrKeyType                = 55
	AttrCiphersPairwise        = 73
	AttrCipherGroup            = 74
	AttrWPAVersions            = 75
	AttrAKMSuites              = 76
	AttrKey                    = 80
	AttrControlPortEthertype   = 102
	AttrControlPortNoEncrypt   = 103
	AttrPMK                    = 254
	AttrControlPortOverNL80211 = 264

	KeyData         = 1
	KeyIdx          = 2
	KeyCipher       = 3
	KeySeq          = 4
	KeyDefault      = 5
	KeyType         = 7
	KeyDefaultTypes = 8

	KeyTypeGroup    = 0
	KeyTypePairwise = 1

	KeyDefaultTypeMulticast = 2
	WPAVersion2             = 2
)

// Suite selectors (IEEE 802.11-2020 Table 9-149 and 9-151), as nl80211
// carries them: OUI 00-0F-AC and the suite type in one big-endian u32.
const (
	CipherCCMP uint32 = 0x000fac04
	AKMPSK     uint32 = 0x000fac02
)

// EthertypePAE is the EAPOL ethertype.
const EthertypePAE = 0x888e

// RSN are the WPA2 settings of START_AP.
type RSN struct {
	Pairwise uint32
	Group    uint32
	AKM      uint32
	// ControlPortOverNL80211 delivers EAPOL frames to the AP's owner
	// socket instead of the network interface.
	ControlPortOverNL80211 bool
	// PMK is only for firmware that runs the handshake itself
	// (EXT_FEATURE_4WAY_HANDSHAKE_AP_PSK); other drivers refuse it.
	PMK []byte
}

func (r *RSN) encode(ae *netlink.AttributeEncoder) {
	ae.Uint32(AttrWPAVersions, WPAVersion2)
	ae.Bytes(AttrCiphersPairwise, u32s(r.Pairwise))
	ae.Uint32(AttrCipherGroup, r.Group)
	ae.Bytes(AttrAKMSuites, u32s(r.AKM))
	ae.Flag(AttrControlPort, true)
	ae.Uint16(AttrControlPortEthertype, EthertypePAE)
	ae.Flag(AttrControlPortOverNL80211, r.ControlPortOverNL80211)
	if len(r.PMK) > 0 {
		ae.Bytes(AttrPMK, r.PMK)
	}
}

// AttrControlPort is NL80211_ATTR_CONTROL_PORT (flag).
const AttrControlPort = 68

func u32s(v ...uint32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.NativeEndian.AppendUint32(b, x)
	}
	return b
}

// Key is a key to install with NEW_KEY.
type Key struct {
	Ifindex int
	MAC     net.HardwareAddr // the station for a pairwise key; nil for a group key
	Index   int
	Cipher  uint32
	Data    []byte
	Seq     []byte // receive sequence counter, for group keys
}

// Encode returns the attributes of NEW_KEY.
func (k Key) Encode() []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(k.Ifindex))
		if k.MAC != nil {
			ae.Bytes(AttrMAC, k.MAC)
		}
		ae.Nested(AttrKey, func(n *netlink.AttributeEncoder) error {
			n.Bytes(KeyData, k.Data)
			n.Uint8(KeyIdx, uint8(k.Index))
			n.Uint32(KeyCipher, k.Cipher)
			if len(k.Seq) > 0 {
				n.Bytes(KeySeq, k.Seq)
			}
			if k.MAC != nil {
				n.Uint32(KeyType, KeyTypePairwise)
			} else {
				n.Uint32(KeyType, KeyTypeGroup)
			}
			return nil
		})
	})
}

// NewKey installs a key.
func (c *Conn) NewKey(k Key) error {
	if _, err := c.execute(CmdNewKey, netlink.Acknowledge, k.Encode()); err != nil {
		return fmt.Errorf("nl80211 NEW_KEY idx %d mac %v: %w", k.Index, k.MAC, err)
	}
	return nil
}

// EncodeDefaultGroupKey returns the attributes of SET_KEY that make key
// index the default for multicast frames.
func EncodeDefaultGroupKey(ifindex, index int) []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Nested(AttrKey, func(n *netlink.AttributeEncoder) error {
			n.Uint8(KeyIdx, uint8(index))
			n.Flag(KeyDefault, true)
			n.Nested(KeyDefaultTypes, func(t *netlink.AttributeEncoder) error {
				t.Flag(KeyDefaultTypeMulticast, true)
				return nil
			})
			return nil
		})
	})
}

// SetDefaultGroupKey makes key index the transmit key for group traffic.
func (c *Conn) SetDefaultGroupKey(ifindex, index int) error {
	if _, err := c.execute(CmdSetKey, netlink.Acknowledge, EncodeDefaultGroupKey(ifindex, index)); err != nil {
		return fmt.Errorf("nl80211 SET_KEY default group idx %d: %w", index, err)
	}
	return nil
}

// EncodeControlPortFrame returns the attributes of CONTROL_PORT_FRAME,
// which sends an EAPOL payload (without Ethernet header) to dst.
func EncodeControlPortFrame(ifindex int, dst net.HardwareAddr, payload []byte, unencrypted bool) []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Bytes(AttrFrame, payload)
		ae.Bytes(AttrMAC, dst)
		ae.Uint16(AttrControlPortEthertype, EthertypePAE)
		ae.Flag(AttrControlPortNoEncrypt, unencrypted)
		ae.Flag(AttrDontWaitForAck, true)
	})
}

// SendControlPortFrame sends an EAPOL frame to a station.
func (c *Conn) SendControlPortFrame(ifindex int, dst net.HardwareAddr, payload []byte, unencrypted bool) error {
	if _, err := c.execute(CmdControlPortFrame, netlink.Acknowledge, EncodeControlPortFrame(ifindex, dst, payload, unencrypted)); err != nil {
		return fmt.Errorf("nl80211 CONTROL_PORT_FRAME to %s: %w", dst, err)
	}
	return nil
}
