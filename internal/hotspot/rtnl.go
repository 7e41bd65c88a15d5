package hotspot

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rtnl is a route-netlink socket for link state and addresses.
type rtnl struct{ c *netlink.Conn }

func dialRtnl() (*rtnl, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return nil, fmt.Errorf("dial route netlink: %w", err)
	}
	return &rtnl{c: c}, nil
}

func (r *rtnl) Close() error { return r.c.Close() }

// setLinkUp sets or clears IFF_UP on ifindex.
func (r *rtnl) setLinkUp(ifindex int, up bool) error {
	// struct ifinfomsg: family, pad, type, index, flags, change.
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	if up {
		binary.NativeEndian.PutUint32(b[8:], unix.IFF_UP)
	}
	binary.NativeEndian.PutUint32(b[12:], unix.IFF_UP)
	msg := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge},
		Data:   b,
	}
	if _, err := r.c.Execute(msg); err != nil {
		return fmt.Errorf("set link %d up=%v: %w", ifindex, up, err)
	}
	return nil
}

// replaceAddr gives ifindex the IPv4 address prefix (e.g. 10.42.0.1/24).
func (r *rtnl) replaceAddr(ifindex int, prefix netip.Prefix) error {
	if !prefix.Addr().Is4() {
		return fmt.Errorf("address %s: only IPv4 is supported", prefix)
	}
	// struct ifaddrmsg: family, prefixlen, flags, scope, index.
	b := []byte{unix.AF_INET, byte(prefix.Bits()), 0, unix.RT_SCOPE_UNIVERSE, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	ae := netlink.NewAttributeEncoder()
	a4 := prefix.Addr().As4()
	ae.Bytes(unix.IFA_LOCAL, a4[:])
	ae.Bytes(unix.IFA_ADDRESS, a4[:])
	bcast := broadcast(prefix).As4()
	ae.Bytes(unix.IFA_BROADCAST, bcast[:])
	attrs, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("encode address %s: %w", prefix, err)
	}
	msg := netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_NEWADDR,
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace,
		},
		Data: append(b, attrs...),
	}
	if _, err := r.c.Execute(msg); err != nil {
		return fmt.Errorf("add address %s to link %d: %w", prefix, ifindex, err)
	}
	return nil
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}
