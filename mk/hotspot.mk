# Hotspot (cmd/hotspot, internal/hotspot, internal/nl80211, internal/ieee80211).
# The VM test (internal/hotspot/vmtest, part of `go test ./...`) boots
# Debian's amd64 kernel with mac80211_hwsim in qemu (TCG) and needs these
# programs; it downloads the kernel package itself (apt-get download) into
# the user cache dir ($KIBITZ_VM_CACHE overrides).
APT_PACKAGES += qemu-system-x86 busybox iw wpasupplicant

.PHONY: hotspot hotspot-test firmware

hotspot:
	CGO_ENABLED=0 $(GO) build -ldflags "$(VERSION_LDFLAGS)" -o bin/hotspot ./cmd/hotspot

# Just the hotspot's tests, verbose (the VM test prints each guest step).
hotspot-test:
	$(GO) test -count=1 -v ./internal/nl80211/ ./internal/ieee80211/ ./internal/wpa/ ./internal/hotspot/... ./cmd/hotspot/

# Raspberry Pi Wi-Fi firmware for the image (mk/image.mk calls this target;
# config.json maps $(FIRMWARE_DIR), default bin/firmware, to /lib/firmware).
# Fetched, not vendored: Debian's firmware-brcm80211 (non-free-firmware) and
# wireless-regdb, with their licences and a MANIFEST.hotspot of sha256 sums.
# Fetches once; FIRMWARE_REFRESH=1 fetches again.
HOTSPOT_FIRMWARE_DIR = $(or $(FIRMWARE_DIR),bin/firmware)
firmware:
	@if [ -f $(HOTSPOT_FIRMWARE_DIR)/MANIFEST.hotspot ] && [ -z "$(FIRMWARE_REFRESH)" ]; then \
	  echo "firmware: $(HOTSPOT_FIRMWARE_DIR) is present (FIRMWARE_REFRESH=1 fetches again)"; \
	else internal/hotspot/firmware/fetch.sh $(HOTSPOT_FIRMWARE_DIR); fi
