# internal/web: the HTTPS app server and the port-80 captive portal.
# Its tests are plain go tests on loopback (part of `go test ./...`); they
# need no extra packages. `make bench` prints the server's figures.

.PHONY: bench-web
BENCH_TARGETS += bench-web

bench-web:
	@echo "== bench internal/web (captive probe, app load over HTTPS, first-boot certificate)"
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/web
