# Release binaries of the hub for laptops (docs/hub.md, README "Run it on a
# laptop"): `make dist` cross-compiles cmd/hub for five platforms into dist/,
# one archive each with a short README, and SHA256SUMS. `make check`
# type-checks the hub for the other platforms (crosscheck, seconds);
# `make test` builds it for them (crossbuild, minutes); the wine test in
# integration/hub runs the Windows build for real.

# wine runs hub.exe (on bookworm wine64 is the 64-bit loader); the mingw
# linker builds the bcryptprimitives.dll forwarder wine 8.0 lacks (see
# integration/hub/wine_test.go).
APT_PACKAGES += wine wine64 binutils-mingw-w64-x86-64 zip
CHECK_TARGETS += crosscheck
TEST_TARGETS += crossbuild

DIST_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
# The version stamped into the binaries: the one mechanism of mk/hub.mk
# (VERSION, VERSION_LDFLAGS: -X internal/daemon.version); DIST_VERSION also
# names the archives.
DIST_VERSION ?= $(or $(VERSION),$(shell git describe --always --dirty 2>/dev/null || echo dev))
DIST_VERSION_LDFLAGS ?= $(VERSION_LDFLAGS)
DIST_DIR ?= dist

.PHONY: dist crosscheck crossbuild

dist:
	@rm -rf $(DIST_DIR) && mkdir -p $(DIST_DIR)
	@for t in $(DIST_TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; exe=hub; [ $$os = windows ] && exe=hub.exe; \
	  name=kibitzbox-hub-$(DIST_VERSION)-$$os-$$arch; dir=$(DIST_DIR)/$$name; mkdir -p $$dir; \
	  echo "== dist $$t"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(DIST_VERSION_LDFLAGS)" -o $$dir/$$exe ./cmd/hub || exit 1; \
	  scripts/dist-readme.sh $$os $(DIST_VERSION) > $$dir/README.txt; \
	  if [ $$os = windows ]; then (cd $(DIST_DIR) && rm -f $$name.zip && zip -qrX $$name.zip $$name); \
	  else tar -C $(DIST_DIR) --owner=0 --group=0 --sort=name -czf $(DIST_DIR)/$$name.tar.gz $$name; fi; \
	  rm -rf $$dir; \
	done
	@cd $(DIST_DIR) && sha256sum *.tar.gz *.zip > SHA256SUMS && cat SHA256SUMS
	@ls -l $(DIST_DIR)

CROSS_TARGETS := $(filter-out linux/amd64,$(DIST_TARGETS))

# Fast: the hub and everything it imports must type-check for every other
# platform, so a Linux-only identifier fails here and not on a user's
# laptop. From source, with no compile per platform (tools/crosscheck).
crosscheck:
	@echo "== crosscheck ($(CROSS_TARGETS))"
	@$(GO) run ./tools/crosscheck -targets '$(CROSS_TARGETS)' ./cmd/hub

# Slow: the real cross builds, with go vet of our packages per platform.
crossbuild:
	@echo "== crossbuild ($(CROSS_TARGETS))"
	@for t in $(CROSS_TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/hub || exit 1; \
	  pkgs=$$(GOOS=$$os GOARCH=$$arch $(GO) list -deps ./cmd/hub | grep '^github.com/kibitzbox/kibitzbox/'); \
	  GOOS=$$os GOARCH=$$arch $(GO) vet $$pkgs || exit 1; \
	done
