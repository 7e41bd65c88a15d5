# Hotspot (cmd/hotspot, internal/hotspot, internal/ap, internal/nl80211,
# internal/ieee80211, internal/wpa, internal/dhcpd, internal/dnsd,
# internal/adminguard). Their heavy tests live in integration/hotspot: the
# hwsim VM test boots Debian's amd64 kernel with mac80211_hwsim in qemu
# (TCG) and needs these programs plus the kernel, which `make deps` fetches
# (hotspot-kernel) into HOTSPOT_VM_CACHE; the DHCP/DNS/nftables tests run
# real clients in network namespaces (mk/net.mk lists their packages).
APT_PACKAGES += qemu-system-x86 busybox iw wpasupplicant
DEPS_TARGETS += hotspot-kernel

# The test reads $KIBITZ_VM_CACHE, else the user cache dir; keep both in step.
HOTSPOT_VM_CACHE ?= $(or $(KIBITZ_VM_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kibitzbox/hotspot-vm)

.PHONY: hotspot hotspot-kernel test-hotspot firmware

hotspot:
	CGO_ENABLED=0 $(GO) build -ldflags "$(VERSION_LDFLAGS)" -o bin/hotspot ./cmd/hotspot

# Debian's kernel package for the VM test, unpacked once (again when Debian
# has a newer one). Tests never download it themselves.
hotspot-kernel:
	@integration/hotspot/fetch-kernel.sh "$(HOTSPOT_VM_CACHE)"

# The hotspot area's heavy tests (root: namespaces, nftables, the VM), with
# the kernel cache this file fills.
test-hotspot:
	@echo "== integration/hotspot"; KIBITZ_VM_CACHE="$(HOTSPOT_VM_CACHE)" $(GO) test -json $(INTEGRATION_FLAGS) ./integration/hotspot/... | $(GO) run ./tools/testreport

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
