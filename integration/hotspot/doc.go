// Package hotspot holds the hotspot area's heavy tests (root, network
// namespaces, a VM): the hwsim VM test boots Debian's amd64 kernel in qemu
// (TCG, no KVM needed) with mac80211_hwsim, runs cmd/hotspot on radio 0 and
// real wpa_supplicant stations on the others, and reads the guest's report
// from the serial console; the DHCP, DNS and packet-filter tests run our
// servers and real clients (udhcpc, dhclient, dig) in network namespaces.
// `make deps` installs the programs and fetches the kernel; `make
// test-hotspot` runs them.
package hotspot
