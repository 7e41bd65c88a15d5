// Package vmtest runs cmd/hotspot for real: it boots Debian's amd64 kernel
// in qemu (TCG, no KVM needed) with mac80211_hwsim, starts the AP on radio 0
// and drives a wpa_supplicant station on radio 1 from another network
// namespace. The guest reports over the serial console; the test asserts.
package vmtest
