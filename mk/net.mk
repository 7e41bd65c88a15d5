# The hotspot's DHCP server and captive DNS (docs/dhcp-dns.md).
#
# Their unit tests are in their packages; the tests that run real clients
# (busybox udhcpc, ISC dhclient, dig) in network namespaces are in
# integration/hotspot (make test-hotspot). These packages provide the clients.
APT_PACKAGES += busybox isc-dhcp-client bind9-dnsutils iproute2
BENCH_TARGETS += bench-net

.PHONY: bench-net

# DHCP exchanges and DNS answers per second, in process and over loopback.
bench-net:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/dhcpd/ ./internal/dnsd/
