# internal/web: the HTTPS app server and the port-80 captive portal.
# Its tests are go tests on loopback (part of `go test ./...`); one of them
# loads the served app in headless chromium to prove getUserMedia is allowed
# there. `make bench` prints the server's figures.

APT_PACKAGES += chromium

.PHONY: bench-web
BENCH_TARGETS += bench-web

bench-web:
	@echo "== bench internal/web (captive probe, app load over HTTPS, first-boot certificate)"
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/web
