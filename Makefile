# Kibitz Box. `make run` starts the hub and call app on this computer;
# `make test` installs what the tests need and runs all of them.
# Each area adds its own targets, apt packages and test steps in mk/*.mk.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export GOFLAGS ?= -buildvcs=false

# Debian packages the tests need; each mk/*.mk appends to this.
APT_PACKAGES :=
# Set up steps (npm, kernel downloads, built helpers); mk/*.mk append.
DEPS_TARGETS :=
# Extra fast checks for `make check` (no root, no network); mk/*.mk append.
CHECK_TARGETS :=
# Heavier whole-build steps of `make test` beyond the areas; mk/*.mk append.
TEST_TARGETS :=
# Benchmark steps; mk/*.mk append.
BENCH_TARGETS :=
# The heavy test areas, one package tree each under integration/, run in
# this order by `make test` (make test-<area> runs one).
TEST_AREAS := hub web hotspot image

include $(sort $(wildcard mk/*.mk))

.PHONY: check check-steps test deps apt-deps lint fmt vet staticcheck unit jstest bench clean help

help:
	@echo "make run        start the hub and the call app on this computer"
	@echo "make check      fast tier: lint, tsc, JS unit tests, go test -short (no root, no network)"
	@echo "make test       install test dependencies, then check and every heavy test area"
	@echo "make test-AREA  one heavy area: $(TEST_AREAS)"
	@echo "make bench      run the benchmarks and print figures"
	@echo "make image      build the Raspberry Pi SD image (kibitzbox.img)"
	@echo "make update     push a new build to BOX=<ip> over the air"
	@echo "make qemu-test  boot the image in qemu and test it from outside (= test-image)"
	@echo "make dist       the hub for Linux, macOS and Windows in dist/"
	@echo "make previews   render the display previews into docs/"

# The fast tier: everything that needs no root, no apt and no network (the
# npm step only installs from the warm npm cache after the first run).
# go vet goes first and compiles everything once; then two steps at a time,
# because the unit tests mostly wait on timers and sockets while
# staticcheck fills the cores.
check:
	@start=$$(date +%s); $(MAKE) --no-print-directory fmt vet; \
	  $(MAKE) --no-print-directory -j2 --output-sync=target check-steps; \
	  echo "make check: passed in $$(( $$(date +%s) - start )) s"

check-steps: staticcheck web-typecheck jstest unit $(CHECK_TARGETS)

test: deps check $(TEST_TARGETS) $(addprefix test-,$(TEST_AREAS))
	@echo "make test: all steps passed"

deps: apt-deps $(DEPS_TARGETS)

apt-deps:
	@scripts/apt-deps.sh $(sort $(APT_PACKAGES))

lint: fmt vet staticcheck

fmt:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@echo "== go vet"; $(GO) vet ./...

staticcheck:
	@echo "== staticcheck"; $(GO) tool staticcheck ./...

# Every package outside integration/: unit tests against fakes, loopback
# servers and in-process clients. -short trims the few long unit loops.
# -vet=off: go vet ./... covers these packages with every analyzer.
unit:
	@echo "== go test -short (every package but integration/)"; \
	  $(GO) test -short -vet=off -json $$($(GO) list ./... | grep -v '/integration/') | $(GO) run ./tools/testreport

# The heavy areas: root, network namespaces, VMs, browsers, wine. One
# package at a time (-p 1): they load both cores themselves. An area's mk
# file may give test-<area> its own recipe (prerequisites, figures).
INTEGRATION_FLAGS ?= -count=1 -p 1 -timeout 40m
test-%:
	@echo "== integration/$*"; $(GO) test -json $(INTEGRATION_FLAGS) ./integration/$*/... | $(GO) run ./tools/testreport

bench: $(BENCH_TARGETS)

clean:
	rm -rf bin/ state/ dist/
