package turnrelay

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"

	"github.com/pion/stun/v4"
)

// guardConn wraps one listener socket for pion. It drops datagrams from
// outside the client networks before pion sees them (no answer at all, so
// the relay cannot be probed or used as a reflector from elsewhere), and it
// remembers the request being handled: pion reads a datagram and handles it
// on the same goroutine before reading the next, and its permission handler
// and relay address generator only get part of the request (the peer IP
// without the port, no client address), so they look here for the rest.
type guardConn struct {
	*net.UDPConn
	srv *Server

	// Only touched by the goroutine pion runs for this listener.
	current netip.AddrPort   // source of the datagram being handled
	peers   []netip.AddrPort // XOR-PEER-ADDRESS values of a CreatePermission or ChannelBind request
}

// ReadFrom returns the next datagram from a client network.
func (g *guardConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, ap, err := g.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if !g.srv.fromClientNet(ap.Addr()) {
			g.srv.count.refusedClientNet.Add(1)
			continue
		}
		g.current = ap
		g.peers = g.peers[:0]
		if isPermissionRequest(p[:n]) {
			g.peers = appendPeerAddrs(g.peers, p[:n])
		}
		return n, net.UDPAddrFromAddrPort(ap), nil
	}
}

// permitPeer is pion's PermissionHandler for this listener. TURN permissions
// are per IP, but relayed addresses are IP:port, so the full peer addresses
// come from the request itself: every peer with this IP must be a live
// relayed address of this server. That refuses 127.0.0.1, the box's own
// services, the TURN port, other LAN hosts and the uplink.
func (g *guardConn) permitPeer(client net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	ip = ip.Unmap()
	cap, okClient := addrPortOf(client)
	matched := false
	if ok && okClient && cap == g.current {
		for _, pa := range g.peers {
			if pa.Addr() != ip {
				continue
			}
			if g.srv.table.lookup(pa) == nil {
				matched = false
				break
			}
			matched = true
		}
	}
	if !matched {
		g.srv.count.refusedPermission.Add(1)
		g.srv.log.Debug("TURN permission refused: peer is not a relayed address of this server",
			"client", addrString(client), "peer", ip.String())
	}
	return matched
}

func (s *Server) fromClientNet(ip netip.Addr) bool {
	return slices.ContainsFunc(s.cfg.ClientNets, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// isPermissionRequest reports whether b is a STUN CreatePermission or
// ChannelBind request; ChannelData and everything else is skipped cheaply.
func isPermissionRequest(b []byte) bool {
	if len(b) < 20 || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return false
	}
	t := binary.BigEndian.Uint16(b[0:2])
	return t == stun.NewType(stun.MethodCreatePermission, stun.ClassRequest).Value() ||
		t == stun.NewType(stun.MethodChannelBind, stun.ClassRequest).Value()
}

// appendPeerAddrs decodes the XOR-PEER-ADDRESS attributes of the STUN
// message b. A malformed message yields none, and pion then refuses it.
func appendPeerAddrs(dst []netip.AddrPort, b []byte) []netip.AddrPort {
	m := &stun.Message{Raw: slices.Clone(b)}
	if m.Decode() != nil {
		return dst
	}
	for _, a := range m.Attributes {
		if a.Type != stun.AttrXORPeerAddress {
			continue
		}
		// XOR-PEER-ADDRESS is encoded like XOR-MAPPED-ADDRESS (RFC 5766 §14.3).
		one := &stun.Message{TransactionID: m.TransactionID}
		one.Add(stun.AttrXORMappedAddress, a.Value)
		var xa stun.XORMappedAddress
		if xa.GetFrom(one) != nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(xa.IP)
		if !ok {
			continue
		}
		dst = append(dst, netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port)))
	}
	return dst
}

// stunMagicCookie is the fixed STUN magic cookie (RFC 5389 §6).
const stunMagicCookie = 0x2112A442
