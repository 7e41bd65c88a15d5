# The call hub (cmd/hub): `make run` starts it on this computer with laptop
# defaults (no root needed); `make test-hub` runs its heavy tests
# (integration/hub); `make bench-hub` measures it with tools/hubprobe.

.PHONY: run hub hubprobe bench-hub test-hub

# The version the three programs report (--version, /status). One
# mechanism everywhere: make stamps internal/daemon's version with -ldflags
# -X for make run/hub/hotspot here, and through the derived gokrazy
# instance's GoBuildFlags for make image/update (mk/image.mk).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
VERSION_LDFLAGS = -X github.com/kibitzbox/kibitzbox/internal/daemon.version=$(VERSION)
# Extra flags for `make run`, e.g. HUB_FLAGS="--advertise 192.168.1.20".
HUB_FLAGS ?=

run:
	$(GO) run -ldflags "$(VERSION_LDFLAGS)" ./cmd/hub --state ./state $(HUB_FLAGS)

hub:
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o bin/hub ./cmd/hub

# The outside client for conformance and benchmarks.
hubprobe:
	$(GO) build -o bin/hubprobe ./tools/hubprobe

# The hub's heavy tests (integration/hub): the built binary checked by
# hubprobe on loopback. INTEGRATION_FLAGS (Makefile) is -count=1 -p 1 and a
# timeout.
test-hub:
	@echo "== integration/hub"; $(GO) test -json $(INTEGRATION_FLAGS) ./integration/hub/... | $(GO) run ./tools/testreport

BENCH_TARGETS += bench-hub

# Runs the hub on loopback (its own ports and a throw-away state dir) and
# `hubprobe bench --pid` against it; prints the tables with the hub's CPU
# time per phase. HUBPROBE_BENCH_FLAGS narrows it, e.g. "--only route".
HUBPROBE_BENCH_FLAGS ?=
bench-hub: hub hubprobe
	@tmp=$$(mktemp -d); trap 'kill $$hubpid 2>/dev/null; wait $$hubpid 2>/dev/null; rm -rf $$tmp' EXIT; \
	bin/hub --state $$tmp/state --advertise 127.0.0.1 --port 24711 --turn-port 23478 \
	  --status 127.0.0.1:28079 --https 127.0.0.1:28443 --http 127.0.0.1:28080 --log-level warn \
	  >$$tmp/out 2>$$tmp/err & hubpid=$$!; \
	for i in $$(seq 100); do grep -q '^BLOB' $$tmp/out && break; sleep 0.1; done; \
	blob=$$(awk '/^BLOB/ {print $$2}' $$tmp/out); \
	test -n "$$blob" || { echo "bench-hub: hub did not start"; cat $$tmp/err; exit 1; }; \
	echo "== bench-hub: hubprobe bench against bin/hub (pid $$hubpid, $$(nproc) cores)"; \
	bin/hubprobe bench --blob "$$blob" --pid $$hubpid $(HUBPROBE_BENCH_FLAGS)
