# The browser call app (web/): type checking with a pinned TypeScript, unit
# tests of its pure logic with node's own test runner (web/test/), and the
# browser end-to-end tests in integration/web (chromium and firefox-esr,
# headless, fake devices, against the built cmd/hub binary): `make test-web`
# (the Makefile's test-% rule: go test -count=1 -p 1 -json
# ./integration/web/... | go run ./tools/testreport).

APT_PACKAGES += chromium firefox-esr
DEPS_TARGETS += web-deps
BENCH_TARGETS += web-size bench-air

.PHONY: web-deps web-typecheck jstest web-size web-screenshot bench-air

# npm ci installs exactly what web/package-lock.json pins (only typescript),
# again only when the lock file changed; --prefer-offline takes it from the
# npm cache when it is there.
WEB_STAMP := web/node_modules/.kibitzbox-stamp
web-deps: $(WEB_STAMP)
$(WEB_STAMP): web/package-lock.json
	@echo "== npm ci (web)"; cd web && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

# tsc checks the plain ES modules and their tests through their JSDoc types;
# nothing is emitted.
web-typecheck: $(WEB_STAMP)
	@echo "== tsc --noEmit --checkJs (web)"; cd web && npx --no-install tsc --noEmit -p .

# The app's pure logic (blob, SDP answer, rooms, presence, glare) under
# node's built-in test runner; no npm package beyond typescript.
jstest:
	@echo "== node --test (web/test)"; cd web && node --test --test-reporter=dot test/

# Prints what a guest downloads: every file of web/static, raw and gzipped.
web-size:
	@cd web/static && raw=0; gz=0; for f in $$(find . -type f | sort); do \
	  r=$$(wc -c < $$f); g=$$(gzip -9c $$f | wc -c); raw=$$((raw + r)); gz=$$((gz + g)); \
	  printf '%-22s %7d B  %6d B gz\n' $$f $$r $$g; done; \
	  printf '%-22s %7d B  %6d B gz\n' total $$raw $$gz

# Re-takes docs/screenshot-call.png (two participants, fake cameras), the
# phone path docs/phone-*.png and the operator page docs/operator-*.png.
web-screenshot:
	KIBITZBOX_WRITE_SCREENSHOT=1 $(GO) test -count=1 -p 1 -run 'TestBrowserCall$$|TestBrowserPhonePath|TestBrowserOperatorPage' ./integration/web/

# Calls that fit the air (docs/air.md): chromium calls of 2, 3 and 4 people
# through the hub, without a budget and with --air-budget-kbps 3000; one
# line each: the relayed rate (/status air), what each person sends, the
# decoded picture size and frame rate, and freezes (docs/benchmarks.md).
bench-air:
	@tmp=$$(mktemp); trap 'rm -f $$tmp $$tmp.log' EXIT; \
	rc=0; AIR_BENCH=$$tmp $(GO) test -count=1 -p 1 -timeout 20m -run 'TestBrowserAirBudget' ./integration/web/ >$$tmp.log 2>&1 || rc=$$?; \
	echo "== bench-air: calls through the hub's TURN relay ($$(nproc) cores, fake 640x480 noise camera)"; \
	sed 's/^AIR //' $$tmp; \
	if [ $$rc -ne 0 ]; then grep -a -E -- '--- FAIL|_test.go:[0-9]+:' $$tmp.log | cut -c1-300 | head -30; fi; exit $$rc
