# TURN relay (internal/turnrelay): relay↔relay throughput, loss and CPU per
# relayed Gb at 50/200/400 Mb/s offered and unpaced, 1200 B datagrams, 3 s
# per rate. The relay runs in its own process; figures are printed.
.PHONY: bench-turn
BENCH_TARGETS += bench-turn
bench-turn:
	@echo "== TURN relay↔relay benchmark"
	$(GO) test -run '^$$' -bench RelayToRelay -benchtime 3x -count 1 ./internal/turnrelay
