// Package nl80211 speaks the parts of the Linux nl80211 generic-netlink
// family that an access point needs: interfaces and wiphys, regulatory
// hints, START_AP/STOP_AP, management-frame registration and transmission,
// and the station table. Messages are encoded by hand with
// netlink.AttributeEncoder so their bytes can be checked in tests.
package nl80211

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// FamilyName is the generic-netlink family name of nl80211.
const FamilyName = "nl80211"

// Conn is one nl80211 socket. A Conn is either used for requests (Execute
// and the helpers) or for events (Receive), not both: replies and events
// would interleave on one socket.
type Conn struct {
	nc     *netlink.Conn
	c      *genetlink.Conn
	family genetlink.Family

	// mu makes each request and its reply one unit, so concurrent callers
	// never read each other's replies.
	mu sync.Mutex
	// pending holds events that arrived while a request waited for its
	// acknowledgement; Receive returns them first.
	pending []genetlink.Message
}

// requestTimeout bounds the wait for the kernel's reply to one request.
const requestTimeout = 5 * time.Second

// maxStrayMessages bounds the events set aside while waiting for one reply.
const maxStrayMessages = 4096

// Dial opens a generic-netlink socket and resolves the nl80211 family.
func Dial() (*Conn, error) {
	nc, err := netlink.Dial(unix.NETLINK_GENERIC, nil)
	if err != nil {
		return nil, fmt.Errorf("dial generic netlink: %w", err)
	}
	c := genetlink.NewConn(nc)
	// Extended ACKs make the kernel say which attribute it disliked.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	f, err := c.GetFamily(FamilyName)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("resolve generic netlink family %s (is cfg80211 loaded?): %w", FamilyName, err)
	}
	return &Conn{nc: nc, c: c, family: f}, nil
}

// Close closes the socket. For the socket that sent START_AP with
// SocketOwner, this stops the AP.
func (c *Conn) Close() error { return c.c.Close() }

func (c *Conn) execute(cmd uint8, flags netlink.HeaderFlags, data []byte) ([]genetlink.Message, error) {
	msg := genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: c.family.Version},
		Data:   data,
	}
	if flags == netlink.Acknowledge {
		return nil, c.request(msg)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.Execute(msg, c.family.ID, netlink.Request|flags)
}

// request sends msg and waits for its acknowledgement. Unlike Execute it
// tolerates unsolicited messages (registered frames, multicast events)
// arriving first on a socket that also receives events: they are kept for
// Receive instead of being taken for the reply.
func (c *Conn) request(msg genetlink.Message) error {
	b, err := msg.MarshalBinary()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sent, err := c.nc.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(c.family.ID), Flags: netlink.Request | netlink.Acknowledge},
		Data:   b,
	})
	if err != nil {
		return err
	}
	if err := c.nc.SetReadDeadline(time.Now().Add(requestTimeout)); err != nil {
		return err
	}
	defer c.nc.SetReadDeadline(time.Time{})
	for stray := 0; stray < maxStrayMessages; {
		msgs, err := c.nc.Receive()
		if err != nil {
			// The kernel reports a failed request as an error message,
			// which Receive turns into this error; events never are one.
			return err
		}
		for _, m := range msgs {
			switch {
			case m.Header.Sequence == sent.Header.Sequence && m.Header.Type == netlink.Error:
				return nil
			case m.Header.Sequence == sent.Header.Sequence:
				// A reply with data; acknowledged requests carry none.
			default:
				var gm genetlink.Message
				if gm.UnmarshalBinary(m.Data) == nil {
					c.pending = append(c.pending, gm)
				}
				stray++
			}
		}
	}
	return errors.New("no acknowledgement among the unsolicited messages")
}

func encode(fn func(ae *netlink.AttributeEncoder)) []byte {
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		// Encode only fails when a nested callback fails; ours never do.
		panic(fmt.Sprintf("nl80211: encode attributes: %v", err))
	}
	return b
}

// SetReadBuffer sets the socket's receive buffer, so that a burst of
// management frames does not overflow it.
func (c *Conn) SetReadBuffer(bytes int) error { return c.c.SetReadBuffer(bytes) }

// Interface is a wireless network interface (a wdev with a netdev).
type Interface struct {
	Index int
	Name  string
	Wiphy int
	Type  int
	MAC   net.HardwareAddr
	SSID  string
}

// Interfaces lists the wireless interfaces in this network namespace.
func (c *Conn) Interfaces() ([]Interface, error) {
	msgs, err := c.execute(CmdGetInterface, netlink.Dump, nil)
	if err != nil {
		return nil, fmt.Errorf("nl80211 GET_INTERFACE dump: %w", err)
	}
	var out []Interface
	for _, m := range msgs {
		ifc, err := parseInterface(m.Data)
		if err != nil {
			return nil, err
		}
		if ifc.Index != 0 {
			out = append(out, ifc)
		}
	}
	return out, nil
}

func parseInterface(b []byte) (Interface, error) {
	var ifc Interface
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return ifc, fmt.Errorf("decode interface: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case AttrIfindex:
			ifc.Index = int(ad.Uint32())
		case AttrIfname:
			ifc.Name = ad.String()
		case AttrWiphy:
			ifc.Wiphy = int(ad.Uint32())
		case AttrIftype:
			ifc.Type = int(ad.Uint32())
		case AttrMAC:
			ifc.MAC = net.HardwareAddr(ad.Bytes())
		case AttrSSID:
			ifc.SSID = string(ad.Bytes())
		}
	}
	if err := ad.Err(); err != nil {
		return ifc, fmt.Errorf("decode interface: %w", err)
	}
	return ifc, nil
}

// Channel is one frequency a wiphy knows.
type Channel struct {
	FreqMHz     int
	Disabled    bool
	NoIR        bool
	Radar       bool
	MaxPowerMBm int
}

// Usable reports whether an AP may beacon on the channel.
func (ch Channel) Usable() bool { return !ch.Disabled && !ch.NoIR && !ch.Radar }

// Wiphy is what GET_WIPHY tells about a radio.
type Wiphy struct {
	Index         int
	Name          string
	SupportsAP    bool
	APSME         bool // the driver (firmware) runs auth/assoc itself
	FeatureFlags  uint32
	ExtFeatures   []byte
	MaxAPAssocSta int
	Channels      []Channel
}

// HasExtFeature reports whether NL80211_EXT_FEATURE_<n> is set.
func (w *Wiphy) HasExtFeature(n int) bool {
	return n/8 < len(w.ExtFeatures) && w.ExtFeatures[n/8]&(1<<(n%8)) != 0
}

// Wiphy reads one wiphy with a split dump (newer attributes such as
// EXT_FEATURES only come in the split form).
func (c *Conn) Wiphy(index int) (*Wiphy, error) {
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrWiphy, uint32(index))
		ae.Flag(AttrSplitWiphyDump, true)
	})
	msgs, err := c.execute(CmdGetWiphy, netlink.Dump, data)
	if err != nil {
		return nil, fmt.Errorf("nl80211 GET_WIPHY %d: %w", index, err)
	}
	w := &Wiphy{Index: -1}
	for _, m := range msgs {
		if err := w.merge(m.Data); err != nil {
			return nil, fmt.Errorf("nl80211 GET_WIPHY %d: %w", index, err)
		}
	}
	if w.Index != index {
		return nil, fmt.Errorf("nl80211 GET_WIPHY %d: no such wiphy", index)
	}
	return w, nil
}

// merge folds one message of a split wiphy dump into w.
func (w *Wiphy) merge(b []byte) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	for ad.Next() {
		switch ad.Type() {
		case AttrWiphy:
			w.Index = int(ad.Uint32())
		case AttrWiphyName:
			w.Name = ad.String()
		case AttrDeviceAPSME:
			w.APSME = true
		case AttrFeatureFlags:
			w.FeatureFlags = ad.Uint32()
		case AttrExtFeatures:
			w.ExtFeatures = append([]byte(nil), ad.Bytes()...)
		case AttrMaxAPAssocSta:
			w.MaxAPAssocSta = int(ad.Uint32())
		case AttrSupportedIftypes:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == IftypeAP {
						w.SupportsAP = true
					}
				}
				return nil
			})
		case AttrWiphyBands:
			ad.Nested(func(bands *netlink.AttributeDecoder) error {
				for bands.Next() {
					bands.Nested(func(band *netlink.AttributeDecoder) error {
						for band.Next() {
							if band.Type() == BandAttrFreqs {
								band.Nested(func(freqs *netlink.AttributeDecoder) error {
									for freqs.Next() {
										freqs.Nested(func(f *netlink.AttributeDecoder) error {
											w.Channels = append(w.Channels, parseChannel(f))
											return nil
										})
									}
									return nil
								})
							}
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	return ad.Err()
}

func parseChannel(f *netlink.AttributeDecoder) Channel {
	var ch Channel
	for f.Next() {
		switch f.Type() {
		case FrequencyAttrFreq:
			ch.FreqMHz = int(f.Uint32())
		case FrequencyAttrDisabled:
			ch.Disabled = true
		case FrequencyAttrNoIR:
			ch.NoIR = true
		case FrequencyAttrRadar:
			ch.Radar = true
		case FrequencyAttrMaxPower:
			ch.MaxPowerMBm = int(f.Uint32())
		}
	}
	return ch
}

// SetInterfaceType changes an interface's type (the link should be down).
func (c *Conn) SetInterfaceType(ifindex, iftype int) error {
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Uint32(AttrIftype, uint32(iftype))
	})
	if _, err := c.execute(CmdSetInterface, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 SET_INTERFACE ifindex %d type %d: %w", ifindex, iftype, err)
	}
	return nil
}

// SetRegulatory sends a user regulatory hint for alpha2 ("00" is world).
func (c *Conn) SetRegulatory(alpha2 string) error {
	if _, err := c.execute(CmdReqSetReg, netlink.Acknowledge, EncodeReqSetReg(alpha2)); err != nil {
		return fmt.Errorf("nl80211 REQ_SET_REG %q: %w", alpha2, err)
	}
	return nil
}

// EncodeReqSetReg returns the attributes of REQ_SET_REG.
func EncodeReqSetReg(alpha2 string) []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.String(AttrRegAlpha2, alpha2)
		ae.Uint32(AttrUserRegHintType, UserRegHintUser)
	})
}

// StartAP describes a START_AP request.
type StartAP struct {
	Ifindex        int
	BeaconHead     []byte
	BeaconTail     []byte
	BeaconInterval int // TU
	DTIMPeriod     int
	SSID           string
	Hidden         bool
	FreqMHz        int
	Privacy        bool
	// SocketOwner ties the AP to the sending socket: closing it stops the AP.
	SocketOwner bool
	// RSN, if set, makes the AP WPA2 (with Privacy).
	RSN *RSN
	// InactivityTimeout, in seconds, lets drivers with an inactivity timer
	// drop idle stations themselves; 0 leaves it out.
	InactivityTimeout int
}

// AttrInactivityTimeout is NL80211_ATTR_INACTIVITY_TIMEOUT (u16 seconds).
const AttrInactivityTimeout = 150

// Encode returns the attributes of START_AP.
func (p StartAP) Encode() []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(p.Ifindex))
		ae.Bytes(AttrBeaconHead, p.BeaconHead)
		if len(p.BeaconTail) > 0 {
			ae.Bytes(AttrBeaconTail, p.BeaconTail)
		}
		ae.Uint32(AttrBeaconInterval, uint32(p.BeaconInterval))
		ae.Uint32(AttrDTIMPeriod, uint32(p.DTIMPeriod))
		ae.Bytes(AttrSSID, []byte(p.SSID))
		if p.Hidden {
			ae.Uint32(AttrHiddenSSID, HiddenSSIDZeroLen)
		} else {
			ae.Uint32(AttrHiddenSSID, HiddenSSIDNotInUse)
		}
		ae.Uint32(AttrAuthType, AuthTypeOpenSystem)
		ae.Flag(AttrPrivacy, p.Privacy || p.RSN != nil)
		ae.Uint32(AttrWiphyFreq, uint32(p.FreqMHz))
		ae.Uint32(AttrChannelWidth, ChanWidth20NoHT)
		ae.Uint32(AttrCenterFreq1, uint32(p.FreqMHz))
		if p.RSN != nil {
			p.RSN.encode(ae)
		}
		if p.InactivityTimeout > 0 {
			ae.Uint16(AttrInactivityTimeout, uint16(p.InactivityTimeout))
		}
		ae.Flag(AttrSocketOwner, p.SocketOwner)
	})
}

// StartAP starts beaconing.
func (c *Conn) StartAP(p StartAP) error {
	if _, err := c.execute(CmdStartAP, netlink.Acknowledge, p.Encode()); err != nil {
		return fmt.Errorf("nl80211 START_AP ifindex %d %d MHz ssid %q: %w", p.Ifindex, p.FreqMHz, p.SSID, err)
	}
	return nil
}

// StopAP stops beaconing and drops all stations.
func (c *Conn) StopAP(ifindex int) error {
	data := encode(func(ae *netlink.AttributeEncoder) { ae.Uint32(AttrIfindex, uint32(ifindex)) })
	if _, err := c.execute(CmdStopAP, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 STOP_AP ifindex %d: %w", ifindex, err)
	}
	return nil
}

// SetAPIsolate turns AP isolation (no station-to-station bridging) on or off.
func (c *Conn) SetAPIsolate(ifindex int, on bool) error {
	var v uint8
	if on {
		v = 1
	}
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Uint8(AttrAPIsolate, v)
	})
	if _, err := c.execute(CmdSetBSS, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 SET_BSS ap_isolate=%d ifindex %d: %w", v, ifindex, err)
	}
	return nil
}

// RegisterFrame asks for management frames of frameType (the frame-control
// field, e.g. 0x0040 for probe requests) whose body starts with match. The
// registration belongs to this socket.
func (c *Conn) RegisterFrame(ifindex int, frameType uint16, match []byte) error {
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Uint16(AttrFrameType, frameType)
		ae.Bytes(AttrFrameMatch, match)
	})
	if _, err := c.execute(CmdRegisterFrame, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 REGISTER_FRAME type %#04x ifindex %d: %w", frameType, ifindex, err)
	}
	return nil
}

// EncodeFrame returns the attributes of a FRAME (transmit) request. It never
// waits for the ACK status: a TX_STATUS event on a request socket would
// confuse the next reply.
func EncodeFrame(ifindex, freqMHz int, frame []byte) []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		if freqMHz > 0 {
			ae.Uint32(AttrWiphyFreq, uint32(freqMHz))
		}
		ae.Bytes(AttrFrame, frame)
		ae.Flag(AttrDontWaitForAck, true)
	})
}

// SendFrame transmits a management frame.
func (c *Conn) SendFrame(ifindex, freqMHz int, frame []byte) error {
	if _, err := c.execute(CmdFrame, netlink.Acknowledge, EncodeFrame(ifindex, freqMHz, frame)); err != nil {
		return fmt.Errorf("nl80211 FRAME (%d bytes) ifindex %d: %w", len(frame), ifindex, err)
	}
	return nil
}

// NewStation describes a station to add to an AP.
type NewStation struct {
	Ifindex        int
	MAC            net.HardwareAddr
	AID            int
	ListenInterval int
	// Rates in units of 500 kbit/s, as in the Supported Rates element.
	Rates      []byte
	Authorized bool
}

// Encode returns the attributes of NEW_STATION.
func (p NewStation) Encode() []byte {
	return encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(p.Ifindex))
		ae.Bytes(AttrMAC, p.MAC)
		ae.Bytes(AttrStaSupportedRates, p.Rates)
		ae.Uint16(AttrStaAID, uint16(p.AID))
		ae.Uint16(AttrStaListenInterval, uint16(p.ListenInterval))
		mask := uint32(1<<StaFlagAuthorized | 1<<StaFlagAuthenticated | 1<<StaFlagAssociated)
		set := uint32(1<<StaFlagAuthenticated | 1<<StaFlagAssociated)
		if p.Authorized {
			set |= 1 << StaFlagAuthorized
		}
		ae.Bytes(AttrStaFlags2, staFlagUpdate(mask, set))
	})
}

// staFlagUpdate encodes struct nl80211_sta_flag_update (host byte order,
// which is little-endian on every machine we run on).
func staFlagUpdate(mask, set uint32) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint32(b[0:], mask)
	binary.NativeEndian.PutUint32(b[4:], set)
	return b
}

// NewStation adds a station to the AP's station table.
func (c *Conn) NewStation(p NewStation) error {
	if _, err := c.execute(CmdNewStation, netlink.Acknowledge, p.Encode()); err != nil {
		return fmt.Errorf("nl80211 NEW_STATION %s aid %d: %w", p.MAC, p.AID, err)
	}
	return nil
}

// SetStationAuthorized flips the AUTHORIZED flag of a station (for an
// authenticator that finishes its handshake after association).
func (c *Conn) SetStationAuthorized(ifindex int, mac net.HardwareAddr, authorized bool) error {
	var set uint32
	if authorized {
		set = 1 << StaFlagAuthorized
	}
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Bytes(AttrMAC, mac)
		ae.Bytes(AttrStaFlags2, staFlagUpdate(1<<StaFlagAuthorized, set))
	})
	if _, err := c.execute(CmdSetStation, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 SET_STATION %s authorized=%v: %w", mac, authorized, err)
	}
	return nil
}

// DelStation removes a station.
func (c *Conn) DelStation(ifindex int, mac net.HardwareAddr) error {
	data := encode(func(ae *netlink.AttributeEncoder) {
		ae.Uint32(AttrIfindex, uint32(ifindex))
		ae.Bytes(AttrMAC, mac)
	})
	if _, err := c.execute(CmdDelStation, netlink.Acknowledge, data); err != nil {
		return fmt.Errorf("nl80211 DEL_STATION %s: %w", mac, err)
	}
	return nil
}

// StationInfo is one entry of the kernel's station table.
type StationInfo struct {
	MAC              net.HardwareAddr
	SignalDBm        int
	ConnectedSeconds int
	InactiveMillis   int
	Authorized       bool
}

// Stations dumps the station table of an interface.
func (c *Conn) Stations(ifindex int) ([]StationInfo, error) {
	data := encode(func(ae *netlink.AttributeEncoder) { ae.Uint32(AttrIfindex, uint32(ifindex)) })
	msgs, err := c.execute(CmdGetStation, netlink.Dump, data)
	if err != nil {
		return nil, fmt.Errorf("nl80211 GET_STATION dump ifindex %d: %w", ifindex, err)
	}
	var out []StationInfo
	for _, m := range msgs {
		st, err := ParseStation(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ParseStation decodes a NEW_STATION / GET_STATION message.
func ParseStation(b []byte) (StationInfo, error) {
	var st StationInfo
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return st, fmt.Errorf("decode station: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case AttrMAC:
			st.MAC = net.HardwareAddr(append([]byte(nil), ad.Bytes()...))
		case AttrStaInfo:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case StaInfoSignal:
						st.SignalDBm = int(int8(nad.Uint8()))
					case StaInfoConnectedTime:
						st.ConnectedSeconds = int(nad.Uint32())
					case StaInfoInactiveTime:
						st.InactiveMillis = int(nad.Uint32())
					case StaInfoStaFlags:
						if f := nad.Bytes(); len(f) == 8 {
							mask := binary.NativeEndian.Uint32(f[0:])
							set := binary.NativeEndian.Uint32(f[4:])
							st.Authorized = mask&set&(1<<StaFlagAuthorized) != 0
						}
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return st, fmt.Errorf("decode station: %w", err)
	}
	return st, nil
}

// JoinMLME subscribes this socket to the "mlme" multicast group, which
// carries NEW_STATION/DEL_STATION events from fullmac drivers.
func (c *Conn) JoinMLME() error {
	for _, g := range c.family.Groups {
		if g.Name == MulticastGroupMLME {
			if err := c.c.JoinGroup(g.ID); err != nil {
				return fmt.Errorf("join nl80211 multicast group %s: %w", g.Name, err)
			}
			return nil
		}
	}
	return errors.New("nl80211 has no multicast group " + MulticastGroupMLME)
}

// Event is one message received on an event socket.
type Event struct {
	Cmd       uint8
	Ifindex   int
	Frame     []byte
	FreqMHz   int
	SignalDBm int
	MAC       net.HardwareAddr
	// IE holds the association request's elements in NEW_STATION events
	// from fullmac drivers.
	IE []byte
}

// Receive blocks until the kernel sends events (frames registered with
// RegisterFrame, or multicast events after JoinMLME).
func (c *Conn) Receive() ([]Event, error) {
	c.mu.Lock()
	msgs := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(msgs) == 0 {
		var err error
		msgs, _, err = c.c.Receive()
		if err != nil {
			return nil, fmt.Errorf("nl80211 receive: %w", err)
		}
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		ev := Event{Cmd: m.Header.Command}
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			continue // a message we cannot parse is not ours to act on
		}
		for ad.Next() {
			switch ad.Type() {
			case AttrIfindex:
				ev.Ifindex = int(ad.Uint32())
			case AttrFrame:
				ev.Frame = append([]byte(nil), ad.Bytes()...)
			case AttrWiphyFreq:
				ev.FreqMHz = int(ad.Uint32())
			case AttrRxSignalDBM:
				ev.SignalDBm = int(int32(ad.Uint32()))
			case AttrMAC:
				ev.MAC = net.HardwareAddr(append([]byte(nil), ad.Bytes()...))
			case AttrIE:
				ev.IE = append([]byte(nil), ad.Bytes()...)
			}
		}
		if ad.Err() != nil {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// FreqToChannel converts a 2.4 or 5 GHz frequency to its channel number.
func FreqToChannel(freq int) int {
	switch {
	case freq == 2484:
		return 14
	case freq >= 2412 && freq <= 2472:
		return (freq - 2407) / 5
	case freq >= 5000 && freq <= 5900:
		return (freq - 5000) / 5
	}
	return 0
}

// ChannelToFreq converts a channel number to its frequency: channels 1–14
// are 2.4 GHz, higher ones 5 GHz. It returns 0 for numbers that are neither.
func ChannelToFreq(ch int) int {
	switch {
	case ch == 14:
		return 2484
	case ch >= 1 && ch <= 13:
		return 2407 + 5*ch
	case ch >= 32 && ch <= 177:
		return 5000 + 5*ch
	}
	return 0
}
