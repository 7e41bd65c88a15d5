# The screen: cmd/display, hardware/, internal/render.

PREVIEW_PANELS := ssd1306 sh1106 epd2in13v4 inky hdmi

.PHONY: previews display-goldens generate

# One PNG per panel from the built-in sample status, plus the call page
# of the OLED carousel.
previews:
	@for p in $(PREVIEW_PANELS); do \
	  $(GO) run ./cmd/display --panel $$p --sample --preview docs/preview-$$p.png || exit 1; \
	done
	@$(GO) run ./cmd/display --panel ssd1306 --sample --page 1 --preview docs/preview-ssd1306-call.png
	@echo "previews written to docs/preview-*.png"

# Rewrite the render golden PNGs after an intended change (look at them!).
display-goldens:
	$(GO) test ./internal/render -update

BENCH_TARGETS += display-bench
.PHONY: display-bench
# Frame render per panel size and the 1080p framebuffer copy.
display-bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/render ./hardware/fb

# Regenerate generated Go files (today internal/render/fonts_gen.go from the
# BDF fonts in internal/render/fonts/) and fail if that changed a committed
# file; internal/render's TestFontsGenUpToDate checks the same in go test.
generate:
	$(GO) generate ./...
	@git diff --exit-code --stat -- $$(git ls-files '*_gen.go') || { echo "generate: generated files changed; commit them"; exit 1; }
