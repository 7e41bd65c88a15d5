# Kibitz Box. `make run` starts the hub and call app on this computer;
# `make test` installs what the tests need and runs all of them.
# Each area adds its own targets, apt packages and test steps in mk/*.mk.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export GOFLAGS ?= -buildvcs=false

# Debian packages the tests need; each mk/*.mk appends to this.
APT_PACKAGES :=
# Extra test steps (make targets) run after the Go tests; mk/*.mk append.
TEST_TARGETS :=
# Benchmark steps; mk/*.mk append.
BENCH_TARGETS :=
# Set up steps before the Go tests (npm, built helpers); mk/*.mk append.
DEPS_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: test deps apt-deps lint gotest bench clean help

help:
	@echo "make run        start the hub and the call app on this computer"
	@echo "make test       install test dependencies, lint, run every test"
	@echo "make bench      run the benchmarks and print figures"
	@echo "make image      build the Raspberry Pi SD image (kibitzbox.img)"
	@echo "make update     push a new build to BOX=<ip> over the air"
	@echo "make qemu-test  boot the image in qemu and test it from outside"
	@echo "make previews   render the display previews into docs/"

test: deps lint gotest $(TEST_TARGETS)
	@echo "make test: all steps passed"

deps: apt-deps $(DEPS_TARGETS)

apt-deps:
	@scripts/apt-deps.sh $(sort $(APT_PACKAGES))

lint:
	@echo "== gofmt"; out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "== go vet"; $(GO) vet ./...
	@echo "== staticcheck"; $(GO) tool staticcheck ./...

# Heavy tests (VMs, browsers) live in their own packages; -p 2 matches the
# two cores here. -count=1 because these tests talk to real programs.
GOTEST_FLAGS ?= -count=1 -timeout 45m -p 2
gotest:
	@echo "== go test"; $(GO) test -json $(GOTEST_FLAGS) ./... | $(GO) run ./tools/testreport

bench: $(BENCH_TARGETS)

clean:
	rm -rf bin/ state/
