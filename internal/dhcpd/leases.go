package dhcpd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

// errPoolFull means every address of the pool is leased, offered or
// quarantined.
var errPoolFull = errors.New("address pool exhausted")

// binding ties one client to one address. A binding outlives its expiry: it
// remembers which address the client had, so that the client gets the same
// address back (sticky) until another client needs it.
type binding struct {
	client   string // clientKey: "mac:" and the MAC (one binding per MAC)
	mac      net.HardwareAddr
	ip       netip.Addr
	hostname string
	// expiry is read from time.Now and so carries the monotonic clock: a
	// wall-clock jump neither expires nor extends it.
	expiry time.Time
	// bound is true once the client got an ACK; false for an offer only.
	bound bool
}

func (b *binding) active(now time.Time) bool { return now.Before(b.expiry) }

// leaseTable is the address allocator. It is not safe for concurrent use;
// Server guards it with a mutex. Its size is bounded by the pool: each
// binding owns one pool address.
type leaseTable struct {
	serverIP    netip.Addr
	start, end  netip.Addr
	leaseTime   time.Duration
	offerHold   time.Duration
	declineHold time.Duration
	byIP        map[netip.Addr]*binding
	byClient    map[string]*binding
	quarantined map[netip.Addr]time.Time // declined addresses, until
}

func newLeaseTable(serverIP, start, end netip.Addr, leaseTime time.Duration) *leaseTable {
	return &leaseTable{
		serverIP:    serverIP,
		start:       start,
		end:         end,
		leaseTime:   leaseTime,
		offerHold:   time.Minute,
		declineHold: 10 * time.Minute,
		byIP:        map[netip.Addr]*binding{},
		byClient:    map[string]*binding{},
		quarantined: map[netip.Addr]time.Time{},
	}
}

// inPool reports whether ip is a pool address we may hand out.
func (t *leaseTable) inPool(ip netip.Addr) bool {
	return ip.Is4() && ip != t.serverIP && t.start.Compare(ip) <= 0 && ip.Compare(t.end) <= 0
}

// available reports whether ip can be given to client now.
func (t *leaseTable) available(ip netip.Addr, client string, now time.Time) bool {
	if !t.inPool(ip) {
		return false
	}
	if until, ok := t.quarantined[ip]; ok && now.Before(until) {
		return false
	}
	b := t.byIP[ip]
	return b == nil || b.client == client || !b.active(now)
}

func (t *leaseTable) remove(b *binding) {
	delete(t.byIP, b.ip)
	if t.byClient[b.client] == b {
		delete(t.byClient, b.client)
	}
}

// assign gives ip to client, dropping whatever binding held ip or client.
func (t *leaseTable) assign(client string, mac net.HardwareAddr, hostname string, ip netip.Addr) *binding {
	if old := t.byIP[ip]; old != nil {
		t.remove(old)
	}
	if old := t.byClient[client]; old != nil {
		t.remove(old)
	}
	b := &binding{client: client, mac: mac, ip: ip, hostname: hostname}
	t.byIP[ip] = b
	t.byClient[client] = b
	return b
}

// offer picks the address for a DISCOVER: the client's own (even expired)
// binding, else the address it asks for if nobody else had it, else a
// never-used address, else the address whose binding expired longest ago.
func (t *leaseTable) offer(client string, mac net.HardwareAddr, hostname string, requested netip.Addr, now time.Time) (netip.Addr, error) {
	if b := t.byClient[client]; b != nil && t.available(b.ip, client, now) {
		if !(b.bound && b.active(now)) {
			b.bound = false
			b.expiry = now.Add(t.offerHold)
		}
		b.mac = mac
		if hostname != "" {
			b.hostname = hostname
		}
		return b.ip, nil
	}
	pick := netip.Addr{}
	// The requested address, unless another client's (expired) binding
	// still remembers it: that client would like it back.
	if requested.IsValid() && t.available(requested, client, now) && t.byIP[requested] == nil {
		pick = requested
	}
	var oldest *binding
	for ip := t.start; !pick.IsValid() && ip.IsValid() && ip.Compare(t.end) <= 0; ip = ip.Next() {
		if !t.available(ip, client, now) {
			continue
		}
		b := t.byIP[ip]
		if b == nil {
			pick = ip
			break
		}
		if oldest == nil || b.expiry.Before(oldest.expiry) {
			oldest = b
		}
	}
	if !pick.IsValid() && oldest != nil {
		pick = oldest.ip
	}
	if !pick.IsValid() {
		return netip.Addr{}, errPoolFull
	}
	b := t.assign(client, mac, hostname, pick)
	b.expiry = now.Add(t.offerHold)
	return pick, nil
}

// bind turns the client's offer into a lease, or renews its lease
// (REQUEST). It binds only the address the client's own binding holds: the
// offer it was made, or its lease, also an expired one whose address nobody
// took since (INIT-REBOOT after a while). A REQUEST for any other address
// creates nothing, so a flood of REQUESTs cannot take the pool (RFC 2131
// §4.3.2 lets a server NAK or stay silent there). ok is false when the
// client gets no ACK; known tells whether we have any record of it;
// renewed tells a renewal of a live lease from a new binding.
func (t *leaseTable) bind(client string, mac net.HardwareAddr, hostname string, ip netip.Addr, now time.Time) (ok, known, renewed bool) {
	b := t.byClient[client]
	if b == nil {
		return false, false, false
	}
	if b.ip != ip || t.byIP[ip] != b || !t.available(ip, client, now) {
		return false, true, false
	}
	renewed = b.bound && b.active(now)
	b.mac, b.bound = mac, true
	if hostname != "" && hostname != b.hostname {
		b.hostname = hostname
		renewed = false // the persisted binding changed
	}
	b.expiry = now.Add(t.leaseTime)
	return true, true, renewed
}

// release ends client's lease on ip early but keeps the binding, so the
// client gets the same address next time. It reports whether anything changed.
func (t *leaseTable) release(client string, ip netip.Addr, now time.Time) bool {
	b := t.byClient[client]
	if b == nil || b.ip != ip || !b.active(now) {
		return false
	}
	b.expiry = now
	return true
}

// decline quarantines ip, which the client found in use by someone else.
// Only the client that holds ip may decline it, so a stranger cannot drain
// the pool with forged DECLINEs.
func (t *leaseTable) decline(client string, ip netip.Addr, now time.Time) bool {
	b := t.byClient[client]
	if b == nil || b.ip != ip {
		return false
	}
	t.remove(b)
	t.quarantined[ip] = now.Add(t.declineHold)
	return true
}

// withdrawOffer forgets an offer the client turned down by choosing another
// server.
func (t *leaseTable) withdrawOffer(client string, now time.Time) {
	if b := t.byClient[client]; b != nil && !b.bound && b.active(now) {
		b.expiry = now
	}
}

// sweep drops expired quarantines.
func (t *leaseTable) sweep(now time.Time) {
	for ip, until := range t.quarantined {
		if !now.Before(until) {
			delete(t.quarantined, ip)
		}
	}
}

// leases lists the bound, unexpired leases ordered by address.
func (t *leaseTable) leases(now time.Time) []status.Lease {
	out := []status.Lease{}
	for _, b := range t.sorted() {
		if !b.bound || !b.active(now) {
			continue
		}
		out = append(out, status.Lease{
			MAC:              b.mac.String(),
			IP:               b.ip.String(),
			Hostname:         b.hostname,
			ExpiresInSeconds: b.expiry.Sub(now).Seconds(),
		})
	}
	return out
}

func (t *leaseTable) sorted() []*binding {
	bs := make([]*binding, 0, len(t.byIP))
	for _, b := range t.byIP {
		bs = append(bs, b)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].ip.Less(bs[j].ip) })
	return bs
}

// leaseFile is the JSON of leases.json. Times are stored as the duration
// left at save time, not as wall-clock instants: the Pi has no RTC, and a
// clock that jumps (1970 at boot, NTP later) must neither expire every lease
// nor keep one forever. Downtime is not subtracted, so after a reboot a lease
// can last up to one lease time longer than it would have: the safe
// direction, as it never hands one address to two phones.
type leaseFile struct {
	Version int              `json:"version"`
	Leases  []persistedLease `json:"leases"`
}

type persistedLease struct {
	Client           string  `json:"client"`
	MAC              string  `json:"mac"`
	IP               string  `json:"ip"`
	Hostname         string  `json:"hostname,omitempty"`
	RemainingSeconds float64 `json:"remaining_s"`
}

const leaseFileVersion = 1

// snapshot returns what to persist: every binding that was ever bound,
// expired ones with 0 s left (they keep addresses sticky across reboots).
func (t *leaseTable) snapshot(now time.Time) leaseFile {
	f := leaseFile{Version: leaseFileVersion, Leases: []persistedLease{}}
	for _, b := range t.sorted() {
		if !b.bound {
			continue
		}
		left := max(b.expiry.Sub(now), 0)
		f.Leases = append(f.Leases, persistedLease{
			Client:           b.client,
			MAC:              b.mac.String(),
			IP:               b.ip.String(),
			Hostname:         b.hostname,
			RemainingSeconds: left.Seconds(),
		})
	}
	return f
}

// validate checks what can only come from a damaged file (the file is then
// moved aside); entries that are merely outside today's pool are skipped by
// restore instead.
func (f *leaseFile) validate() error {
	if f.Version != leaseFileVersion {
		return fmt.Errorf("lease file version %d, want %d", f.Version, leaseFileVersion)
	}
	for i, l := range f.Leases {
		if _, err := netip.ParseAddr(l.IP); err != nil {
			return fmt.Errorf("lease %d: %w", i, err)
		}
		if _, err := net.ParseMAC(l.MAC); err != nil {
			return fmt.Errorf("lease %d: %w", i, err)
		}
	}
	return nil
}

// restore loads f into an empty table. It returns the entries it skipped
// and why, for the log.
func (t *leaseTable) restore(f leaseFile, now time.Time) (skipped []string) {
	for _, l := range f.Leases {
		ip, _ := netip.ParseAddr(l.IP)
		mac, _ := net.ParseMAC(l.MAC)
		switch {
		case !t.inPool(ip):
			skipped = append(skipped, l.IP+": outside the pool")
			continue
		case t.byIP[ip] != nil:
			skipped = append(skipped, l.IP+": listed twice")
			continue
		case t.byClient[macKey(mac)] != nil:
			skipped = append(skipped, l.IP+": MAC listed twice")
			continue
		}
		// Clamp in float: a huge value would overflow time.Duration.
		secs := min(max(l.RemainingSeconds, 0), t.leaseTime.Seconds())
		left := time.Duration(secs * float64(time.Second))
		// Older files keyed some bindings by client identifier; now
		// every binding is the MAC's.
		b := t.assign(macKey(mac), mac, cleanHostname(l.Hostname), ip)
		b.bound = true
		b.expiry = now.Add(left)
	}
	return skipped
}

// cleanHostname keeps a client-supplied host name printable and short: it
// is shown on the status page.
func cleanHostname(s string) string {
	const maxLen = 63
	var sb strings.Builder
	for _, r := range s {
		if sb.Len() >= maxLen {
			break
		}
		if r < 0x20 || r == 0x7f || r > 0x7e {
			r = '?'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
