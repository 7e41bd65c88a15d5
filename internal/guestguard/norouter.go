package guestguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// NoRouterTable names the inet table that drops everything the kernel
// would forward. It is separate from TableName because it does not depend
// on the AP: the box is never a router, with or without Wi-Fi.
const NoRouterTable = "kibitzbox_norouter"

var noRouterTable = &nftables.Table{Name: NoRouterTable, Family: nftables.TableFamilyINet}

// NoRouter is what the kernel says about forwarding, read back after
// EnforceNoRouter (or at any time with CheckNoRouter).
type NoRouter struct {
	// ForwardingOff: net.ipv4.ip_forward is 0 (and IPv6 forwarding, where
	// the kernel has IPv6).
	ForwardingOff bool
	// ForwardDrop: the forward hook of NoRouterTable drops every packet
	// (a drop policy or an unconditional drop rule, with nothing accepting
	// before it).
	ForwardDrop bool
	// Dropped counts the packets the drop rule has dropped.
	Dropped uint64
	// Err says what is not in force, or what could not be read; nil when
	// both are.
	Err error
}

// EnforceNoRouter turns forwarding off, installs NoRouterTable (a forward
// chain with policy drop and a counted unconditional drop rule, in one
// transaction, replacing an older copy) and reads both back. procRoot is
// "/proc"; netns, if not 0, is a network namespace fd for the nftables
// part (the caller's thread must be in the same namespace for /proc/sys/net).
func EnforceNoRouter(procRoot string, netns int) error {
	ferr := DisableForwarding(procRoot)
	ierr := installForwardDrop(netns)
	if err := errors.Join(ferr, ierr); err != nil {
		return err
	}
	return CheckNoRouter(procRoot, netns).Err
}

func installForwardDrop(netns int) error {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	// Add then delete: deleting a missing table would fail the batch.
	conn.AddTable(noRouterTable)
	conn.DelTable(noRouterTable)
	conn.AddTable(noRouterTable)
	drop := nftables.ChainPolicyDrop
	fwd := conn.AddChain(&nftables.Chain{Name: "forward", Table: noRouterTable, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	// The policy alone would do; the rule counts what it stops.
	conn.AddRule(&nftables.Rule{Table: noRouterTable, Chain: fwd, Exprs: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("guestguard: installing the forward drop (table inet %s): %w", NoRouterTable, err)
	}
	return nil
}

// CheckNoRouter reads forwarding and the forward drop back from the
// kernel.
func CheckNoRouter(procRoot string, netns int) NoRouter {
	var nr NoRouter
	ferr := forwardingOff(procRoot)
	nr.ForwardingOff = ferr == nil
	dropped, derr := checkForwardDrop(netns)
	nr.ForwardDrop, nr.Dropped = derr == nil, dropped
	nr.Err = errors.Join(ferr, derr)
	return nr
}

// forwardingOff reads the forwarding switches DisableForwarding writes.
func forwardingOff(procRoot string) error {
	for _, p := range []string{"sys/net/ipv4/ip_forward", "sys/net/ipv6/conf/all/forwarding"} {
		path := filepath.Join(procRoot, p)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) && strings.Contains(p, "ipv6") {
			continue // a kernel without IPv6 forwards no IPv6
		}
		if err != nil {
			return fmt.Errorf("guestguard: reading %s: %w", path, err)
		}
		if v := strings.TrimSpace(string(b)); v != "0" {
			return fmt.Errorf("guestguard: forwarding is on (%s = %s)", path, v)
		}
	}
	return nil
}

// checkForwardDrop returns nil if NoRouterTable's forward chain drops
// every packet, and the drop rule's packet counter.
func checkForwardDrop(netns int) (uint64, error) {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return 0, err
	}
	defer conn.CloseLasting()
	chain, err := conn.ListChain(noRouterTable, "forward")
	if err != nil {
		return 0, fmt.Errorf("guestguard: no forward chain in table inet %s: %w", NoRouterTable, err)
	}
	if chain.Hooknum == nil || *chain.Hooknum != *nftables.ChainHookForward || chain.Type != nftables.ChainTypeFilter {
		return 0, fmt.Errorf("guestguard: chain inet %s forward is not a filter chain on the forward hook", NoRouterTable)
	}
	rules, err := conn.GetRules(noRouterTable, chain)
	if err != nil {
		return 0, fmt.Errorf("guestguard: listing the rules of inet %s forward: %w", NoRouterTable, err)
	}
	for i, r := range rules {
		if n, ok := unconditionalDrop(r); ok {
			return n, nil
		}
		for _, e := range r.Exprs {
			if v, ok := e.(*expr.Verdict); ok && v.Kind != expr.VerdictDrop {
				return 0, fmt.Errorf("guestguard: rule %d of inet %s forward lets packets out (verdict %d) before any drop", i, NoRouterTable, v.Kind)
			}
		}
	}
	if chain.Policy != nil && *chain.Policy == nftables.ChainPolicyDrop {
		return 0, nil
	}
	return 0, fmt.Errorf("guestguard: inet %s forward has no unconditional drop and its policy is accept", NoRouterTable)
}

// unconditionalDrop reports whether r drops every packet (only counters
// and a drop verdict), with its packet count.
func unconditionalDrop(r *nftables.Rule) (uint64, bool) {
	var packets uint64
	drop := false
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Counter:
			packets += e.Packets
		case *expr.Verdict:
			drop = e.Kind == expr.VerdictDrop
		default:
			return 0, false
		}
	}
	return packets, drop
}

// RemoveNoRouter deletes NoRouterTable (labs and tests; the box never
// does); a missing table is not an error. Forwarding stays as it is.
func RemoveNoRouter(netns int) error {
	conn, err := Config{NetNS: netns}.conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	conn.AddTable(noRouterTable)
	conn.DelTable(noRouterTable)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("guestguard: removing table inet %s: %w", NoRouterTable, err)
	}
	return nil
}
