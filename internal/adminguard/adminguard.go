// Package adminguard keeps Wi-Fi guests away from gokrazy's admin UI.
//
// gokrazy's init serves its web UI and update API (Update.HTTPPort 8880,
// HTTPSPort 8443 in config.json) on every private address, the hotspot's
// 10.42.0.1 included, and Linux delivers a packet that arrives on wlan0
// for the box's Ethernet address too. So the guard is a packet filter, not
// a bind address: an nftables table (through google/nftables, no nft binary
// needed on gokrazy) whose input-hook chain drops TCP to those ports when it
// arrives on the AP interface. Listed operator MAC addresses are exempt, so
// an operator can still run `make update` over the box's Wi-Fi.
//
// cmd/hotspot owns the AP interface and is meant to call Install once it
// knows the interface name, and Remove on a clean exit.
package adminguard

import (
	"errors"
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table adminguard owns (family inet).
const TableName = "kibitzbox_adminguard"

// DefaultPorts are gokrazy's admin ports as config.json sets them.
var DefaultPorts = []uint16{8880, 8443}

// Config says what to guard.
type Config struct {
	// Interface is the AP interface (matched by name, so the rule also
	// holds for an interface that appears or is recreated later).
	Interface string
	// Ports are the TCP ports to drop; empty means DefaultPorts.
	Ports []uint16
	// AllowMACs are stations (operator laptops) that may still reach them.
	AllowMACs []net.HardwareAddr
	// NetNS, if not 0, is a network namespace fd to act in (for tests).
	NetNS int
}

func (c Config) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if c.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(c.NetNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("adminguard: opening nftables: %w", err)
	}
	return conn, nil
}

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}

// Install replaces adminguard's table with one for cfg, atomically: there is
// no moment without the rule when it is re-installed by a restarted hotspot.
func Install(cfg Config) error {
	if cfg.Interface == "" || len(cfg.Interface) >= unix.IFNAMSIZ {
		return fmt.Errorf("adminguard: bad interface name %q", cfg.Interface)
	}
	ports := cfg.Ports
	if len(ports) == 0 {
		ports = DefaultPorts
	}
	for _, m := range cfg.AllowMACs {
		if len(m) != 6 {
			return fmt.Errorf("adminguard: allowed MAC %q is not 6 bytes", m)
		}
	}
	conn, err := cfg.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	// Add then delete: deleting a missing table would fail the batch.
	conn.AddTable(table)
	conn.DelTable(table)
	conn.AddTable(table)
	accept := nftables.ChainPolicyAccept
	chain := conn.AddChain(&nftables.Chain{
		Name:     "input",
		Table:    table,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &accept,
	})
	for _, port := range ports {
		for _, mac := range cfg.AllowMACs {
			conn.AddRule(&nftables.Rule{Table: table, Chain: chain,
				Exprs: append(match(cfg.Interface, port), macIs(mac, expr.VerdictAccept)...)})
		}
		conn.AddRule(&nftables.Rule{Table: table, Chain: chain,
			Exprs: append(match(cfg.Interface, port), &expr.Verdict{Kind: expr.VerdictDrop})})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("adminguard: installing table %s for %s ports %v: %w", TableName, cfg.Interface, ports, err)
	}
	return nil
}

// match is: iifname == ifname && l4proto == tcp && tcp dport == port.
func match(ifname string, port uint16) []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, ifname)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// macIs is: ether saddr == mac → verdict.
func macIs(mac net.HardwareAddr, v expr.VerdictKind) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(mac)},
		&expr.Verdict{Kind: v},
	}
}

// Remove deletes adminguard's table; a missing table is not an error.
func Remove(netns int) error {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	conn.AddTable(table)
	conn.DelTable(table)
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("adminguard: removing table %s: %w", TableName, err)
	}
	return nil
}

// Installed reports whether adminguard's table exists.
func Installed(netns int) (bool, error) {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return false, err
	}
	defer conn.CloseLasting()
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("adminguard: listing tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}
