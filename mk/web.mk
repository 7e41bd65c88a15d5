# The browser call app (web/): type checking with a pinned TypeScript and the
# chromium end-to-end tests (web/e2e_test.go, run by `go test ./...`).

APT_PACKAGES += chromium
DEPS_TARGETS += web-deps
TEST_TARGETS += web-typecheck
BENCH_TARGETS += web-size

.PHONY: web-deps web-typecheck web-size web-screenshot

# npm ci installs exactly what web/package-lock.json pins (only typescript).
web-deps:
	@echo "== npm ci (web)"; cd web && npm ci --no-audit --no-fund --loglevel=error

# tsc checks the plain ES modules through their JSDoc types; nothing is emitted.
web-typecheck:
	@echo "== tsc --noEmit --checkJs (web)"; cd web && npx --no-install tsc --noEmit -p .

# Prints what a guest downloads: every file of web/static, raw and gzipped.
web-size:
	@cd web/static && raw=0; gz=0; for f in $$(find . -type f | sort); do \
	  r=$$(wc -c < $$f); g=$$(gzip -9c $$f | wc -c); raw=$$((raw + r)); gz=$$((gz + g)); \
	  printf '%-22s %7d B  %6d B gz\n' $$f $$r $$g; done; \
	  printf '%-22s %7d B  %6d B gz\n' total $$raw $$gz

# Re-takes docs/screenshot-call.png (two participants, fake cameras).
web-screenshot:
	KIBITZBOX_WRITE_SCREENSHOT=1 $(GO) test -count=1 -run 'TestBrowserCall' ./web/
