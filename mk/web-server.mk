# internal/web: the HTTPS app server and the port-80 captive portal.
# Its tests are go tests on loopback (part of `go test ./...`); the one that
# loads the served app in headless chromium lives in integration/web
# (`make test-web`). `make bench` prints the server's figures.

.PHONY: bench-web
BENCH_TARGETS += bench-web

bench-web:
	@echo "== bench internal/web (captive probe, app load over HTTPS, first-boot certificate)"
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/web
