# Hotspot (cmd/hotspot, internal/hotspot, internal/nl80211, internal/ieee80211).
# The VM test (internal/hotspot/vmtest, part of `go test ./...`) boots
# Debian's amd64 kernel with mac80211_hwsim in qemu (TCG) and needs these
# programs; it downloads the kernel package itself (apt-get download) into
# the user cache dir ($KIBITZ_VM_CACHE overrides).
APT_PACKAGES += qemu-system-x86 busybox iw wpasupplicant

.PHONY: hotspot hotspot-test hotspot-firmware

hotspot:
	CGO_ENABLED=0 $(GO) build -o bin/hotspot ./cmd/hotspot

# Just the hotspot's tests, verbose (the VM test prints each guest step).
hotspot-test:
	$(GO) test -count=1 -v ./internal/nl80211/ ./internal/ieee80211/ ./internal/hotspot/...
