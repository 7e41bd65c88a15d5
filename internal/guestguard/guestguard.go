// Package guestguard is the box's packet filter for the guest Wi-Fi, in
// nftables through google/nftables (no nft binary on gokrazy):
//
//   - Source guard: on the AP interface an IPv4 packet passes only if its
//     source address is the DHCP lease of its source MAC (or it is a DHCP
//     request from 0.0.0.0), so the hub, TURN and DNS see real guests, and
//     ARP from a guest must name its own lease too. Guests' IPv6 (router
//     adverts included) and DHCP server replies are dropped.
//   - Venue LAN: the guest services (DNS, DHCP, HTTP, HTTPS, TURN, the hub)
//     answer only on the AP interface and loopback (and, in Ethernet mode,
//     HTTP, HTTPS, TURN and the hub on the interfaces in GuestIfaces, see
//     SetGuestIfaces), and nothing is
//     forwarded to or from the AP interface (ip_forward=0 is also set, see
//     DisableForwarding).
//
// The hotspot installs it before the AP starts and does not start the AP
// when that fails; it calls SetLeases whenever a DHCP binding changes.
package guestguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName names guestguard's tables (one inet, one arp).
const TableName = "kibitzbox_guest"

// DefaultPorts are the guest services: DNS, DHCP, HTTP, HTTPS, TURN, hub.
var DefaultPorts = []uint16{53, 67, 80, 443, 3478, 4711}

// DefaultLANPorts are the guest services a venue's LAN needs in Ethernet
// mode: HTTP, HTTPS, TURN, the hub. The box's DNS and DHCP stay Wi-Fi only
// (the venue's network has its own; a second DHCP server would break it).
var DefaultLANPorts = []uint16{80, 443, 3478, 4711}

// Config says what to guard.
type Config struct {
	// Interface is the AP interface (matched by name).
	Interface string
	// Ports are the guest services' ports, TCP and UDP; empty means
	// DefaultPorts. They answer only on Interface, loopback and
	// GuestIfaces.
	Ports []uint16
	// GuestIfaces are further interfaces where guests come from (Ethernet
	// mode: the venue's LAN on eth0), where the guest services among
	// LANPorts answer too. The source guard and the forward drop stay on
	// Interface only.
	GuestIfaces []string
	// LANPorts are the guest ports opened on GuestIfaces; empty means
	// DefaultLANPorts. A port not in Ports stays closed there anyway.
	LANPorts []uint16
	// NetNS, if not 0, is a network namespace fd to act in (for tests).
	NetNS int
}

// Lease is one DHCP binding: the only source address MAC may use.
type Lease struct {
	MAC net.HardwareAddr
	IP  netip.Addr
}

// Guard is an installed guard.
type Guard struct {
	mu  sync.Mutex
	cfg Config
}

var (
	inetTable = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
	arpTable  = &nftables.Table{Name: TableName, Family: nftables.TableFamilyARP}
)

func (c Config) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if c.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(c.NetNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("guestguard: opening nftables: %w", err)
	}
	return conn, nil
}

// Install replaces guestguard's tables with fresh ones for cfg, with no
// leases yet (only DHCP from 0.0.0.0 passes the source guard), in one
// transaction.
func Install(cfg Config) (*Guard, error) {
	if cfg.Interface == "" || len(cfg.Interface) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("guestguard: bad interface name %q", cfg.Interface)
	}
	if err := checkIfaces(cfg.GuestIfaces); err != nil {
		return nil, err
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = DefaultPorts
	}
	if len(cfg.LANPorts) == 0 {
		cfg.LANPorts = DefaultLANPorts
	}
	conn, err := cfg.conn()
	if err != nil {
		return nil, err
	}
	defer conn.CloseLasting()
	for _, t := range []*nftables.Table{inetTable, arpTable} {
		// Add then delete: deleting a missing table would fail the batch.
		conn.AddTable(t)
		conn.DelTable(t)
		conn.AddTable(t)
	}
	accept := nftables.ChainPolicyAccept
	base := func(t *nftables.Table, name string, hook *nftables.ChainHook) *nftables.Chain {
		return conn.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	}
	ap := cfg.Interface

	// Guest services only on the AP, loopback and GuestIfaces.
	input := base(inetTable, "input", nftables.ChainHookInput)
	addServiceRules(conn, input, cfg)
	// Nothing routed to or from the guests.
	forward := base(inetTable, "forward", nftables.ChainHookForward)
	for _, k := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		conn.AddRule(&nftables.Rule{Table: inetTable, Chain: forward, Exprs: cat(
			ifname(k, expr.CmpOpEq, ap), verdict(expr.VerdictDrop))})
	}
	// The source guard, for everything arriving on the AP.
	leases := conn.AddChain(&nftables.Chain{Name: "leases", Table: inetTable})
	guard := base(inetTable, "source", nftables.ChainHookPrerouting)
	rule := func(e ...[]expr.Any) {
		conn.AddRule(&nftables.Rule{Table: inetTable, Chain: guard, Exprs: cat(append([][]expr.Any{ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, ap)}, e...)...)})
	}
	rule(nfproto(unix.NFPROTO_IPV6), verdict(expr.VerdictDrop))
	rule(nfproto(unix.NFPROTO_IPV4), l4proto(unix.IPPROTO_UDP), payloadIs(expr.PayloadBaseTransportHeader, 0, binaryutil.BigEndian.PutUint16(67)), verdict(expr.VerdictDrop))
	rule(nfproto(unix.NFPROTO_IPV4), payloadIs(expr.PayloadBaseNetworkHeader, 12, []byte{0, 0, 0, 0}), l4proto(unix.IPPROTO_UDP),
		payloadIs(expr.PayloadBaseTransportHeader, 2, binaryutil.BigEndian.PutUint16(67)), verdict(expr.VerdictAccept))
	rule(nfproto(unix.NFPROTO_IPV4), []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: leases.Name}})
	rule(nfproto(unix.NFPROTO_IPV4), []expr.Any{&expr.Counter{}}, verdict(expr.VerdictDrop))

	// ARP from a guest must name its own lease (or be a probe from 0.0.0.0).
	arpLeases := conn.AddChain(&nftables.Chain{Name: "leases", Table: arpTable})
	arpIn := base(arpTable, "input", nftables.ChainHookInput)
	arpRule := func(e ...[]expr.Any) {
		conn.AddRule(&nftables.Rule{Table: arpTable, Chain: arpIn, Exprs: cat(append([][]expr.Any{ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, ap)}, e...)...)})
	}
	arpRule(payloadIs(expr.PayloadBaseNetworkHeader, arpSPA, []byte{0, 0, 0, 0}), verdict(expr.VerdictAccept))
	arpRule([]expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: arpLeases.Name}})
	arpRule([]expr.Any{&expr.Counter{}}, verdict(expr.VerdictDrop))

	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("guestguard: installing tables %s for %s: %w", TableName, ap, err)
	}
	cfg.GuestIfaces = slices.Clone(cfg.GuestIfaces)
	return &Guard{cfg: cfg}, nil
}

// addServiceRules fills the input chain: a packet to a guest port is
// dropped unless it arrived on the AP, loopback or (for LANPorts) one of
// GuestIfaces.
func addServiceRules(conn *nftables.Conn, input *nftables.Chain, cfg Config) {
	for _, port := range cfg.Ports {
		allowed := []string{cfg.Interface, "lo"}
		if slices.Contains(cfg.LANPorts, port) {
			allowed = append(allowed, cfg.GuestIfaces...)
		}
		for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			var e [][]expr.Any
			for _, name := range allowed {
				e = append(e, ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, name))
			}
			e = append(e, l4proto(proto),
				payloadIs(expr.PayloadBaseTransportHeader, 2, binaryutil.BigEndian.PutUint16(port)),
				verdict(expr.VerdictDrop))
			conn.AddRule(&nftables.Rule{Table: inetTable, Chain: input, Exprs: cat(e...)})
		}
	}
}

func checkIfaces(names []string) error {
	for _, n := range names {
		if n == "" || len(n) >= unix.IFNAMSIZ {
			return fmt.Errorf("guestguard: bad guest interface name %q", n)
		}
	}
	return nil
}

// SetGuestIfaces replaces the interfaces besides the AP and loopback where
// the guest services answer (nil: none, Wi-Fi-only mode), in one
// transaction; the leases are kept.
func (g *Guard) SetGuestIfaces(ifaces []string) error {
	if err := checkIfaces(ifaces); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	conn, err := g.cfg.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	cfg := g.cfg
	cfg.GuestIfaces = slices.Clone(ifaces)
	input := &nftables.Chain{Name: "input", Table: inetTable}
	conn.FlushChain(input)
	addServiceRules(conn, input, cfg)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("guestguard: setting guest interfaces %v: %w", ifaces, err)
	}
	g.cfg = cfg
	return nil
}

// GuestIfaces returns the interfaces besides the AP and loopback where the
// guest services answer now.
func (g *Guard) GuestIfaces() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.cfg.GuestIfaces)
}

// ARP (RFC 826, Ethernet/IPv4) field offsets: sender hardware and
// protocol address.
const (
	arpSHA = 8
	arpSPA = 14
)

// SetLeases makes leases the only (MAC, source IP) pairs that pass, in one
// transaction.
func (g *Guard) SetLeases(leases []Lease) error {
	g.mu.Lock()
	cfg := g.cfg
	g.mu.Unlock()
	conn, err := cfg.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	inet := &nftables.Chain{Name: "leases", Table: inetTable}
	arp := &nftables.Chain{Name: "leases", Table: arpTable}
	conn.FlushChain(inet)
	conn.FlushChain(arp)
	for _, l := range leases {
		if len(l.MAC) != 6 || !l.IP.Is4() {
			return fmt.Errorf("guestguard: lease %v %v is not a MAC and an IPv4 address", l.MAC, l.IP)
		}
		ip := l.IP.AsSlice()
		conn.AddRule(&nftables.Rule{Table: inetTable, Chain: inet, Exprs: cat(
			payloadIs(expr.PayloadBaseLLHeader, 6, l.MAC),
			payloadIs(expr.PayloadBaseNetworkHeader, 12, ip),
			verdict(expr.VerdictAccept))})
		conn.AddRule(&nftables.Rule{Table: arpTable, Chain: arp, Exprs: cat(
			payloadIs(expr.PayloadBaseNetworkHeader, arpSHA, l.MAC),
			payloadIs(expr.PayloadBaseNetworkHeader, arpSPA, ip),
			verdict(expr.VerdictAccept))})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("guestguard: setting %d leases: %w", len(leases), err)
	}
	return nil
}

// Remove deletes guestguard's tables; missing tables are not an error.
func Remove(netns int) error {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	for _, t := range []*nftables.Table{inetTable, arpTable} {
		conn.AddTable(t)
		conn.DelTable(t)
	}
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("guestguard: removing tables %s: %w", TableName, err)
	}
	return nil
}

// DisableForwarding sets net.ipv4.ip_forward (and IPv6 forwarding) to 0
// and reads them back: the forward rule is the guard, this is the floor.
// procRoot is "/proc" (a test passes another).
func DisableForwarding(procRoot string) error {
	for _, p := range []string{"sys/net/ipv4/ip_forward", "sys/net/ipv6/conf/all/forwarding"} {
		path := filepath.Join(procRoot, p)
		if err := os.WriteFile(path, []byte("0\n"), 0o644); err != nil {
			if errors.Is(err, os.ErrNotExist) && strings.Contains(p, "ipv6") {
				continue // a kernel without IPv6 forwards no IPv6
			}
			return fmt.Errorf("guestguard: turning off forwarding in %s: %w", path, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) != "0" {
			return fmt.Errorf("guestguard: %s is %q after writing 0 (%v)", path, strings.TrimSpace(string(b)), err)
		}
	}
	return nil
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func nfproto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func payloadIs(base expr.PayloadBase, offset uint32, want []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: uint32(len(want))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: want},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }
