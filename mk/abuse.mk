# Hostile-guest attacks (integration/hub/abuse*_test.go): the real hub in
# network namespaces, one attacker per test, while a normal guest joins.
# `make bench-abuse` prints, per attack, the time a new guest takes to join,
# the hub's peak RSS and the packets/requests it dropped (from /metrics).
# Needs root (network namespaces).

.PHONY: bench-abuse

BENCH_TARGETS += bench-abuse

bench-abuse:
	@tmp=$$(mktemp); trap 'rm -f $$tmp' EXIT; \
	ABUSE_REPORT=$$tmp $(GO) test -count=1 -p 1 -run 'TestAbuse' ./integration/hub/ >$$tmp.log 2>&1; rc=$$?; \
	echo "== bench-abuse: hub under attack ($$(nproc) cores); a normal guest joins during each"; \
	sed 's/^ABUSE //' $$tmp; \
	if [ $$rc -ne 0 ]; then tail -40 $$tmp.log; fi; rm -f $$tmp.log; exit $$rc
