# The hotspot's DHCP server and captive DNS (docs/dhcp-dns.md).
#
# Their tests are ordinary Go tests (go test ./internal/dhcpd/... ./internal/dnsd/...
# ./internal/netnstest/...); as root they build network namespaces and run real
# clients: busybox udhcpc, ISC dhclient, dig. These packages provide them.
APT_PACKAGES += busybox isc-dhcp-client bind9-dnsutils iproute2
BENCH_TARGETS += bench-net

.PHONY: test-net bench-net

# Only this area's tests (needs root for the namespace tests).
test-net:
	$(GO) test -count=1 ./internal/dhcpd/... ./internal/dnsd/... ./internal/netnstest/...

# DHCP exchanges and DNS answers per second, in process and over loopback.
bench-net:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/dhcpd/ ./internal/dnsd/
