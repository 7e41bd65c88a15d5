package display

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/render"
)

// tick is how often the loop looks at the clock: fine enough for the
// carousel, cheap because unchanged frames cost no bus traffic.
const tick = 250 * time.Millisecond

// loop fetches the status every cfg.Interval and shows the frame for
// the moment (carousel page, burn-in shift) until ctx ends.
func loop(ctx context.Context, cfg Config, scr screen, src source, now func() time.Time) {
	t := time.NewTicker(min(tick, cfg.Interval))
	defer t.Stop()
	start := now()
	carousel, shiftEvery := max(cfg.Carousel, time.Second), max(cfg.ShiftEvery, time.Second)
	var (
		in           render.Input
		nextFetch    time.Time
		lastKey      string
		lastActivity = start
		lastErr      string
		lastRender   string
		img          *image.Gray
	)
	report := func(err error) {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if msg != lastErr {
			if err != nil {
				cfg.log().Error("display: screen", "err", err)
			} else if lastErr != "" {
				cfg.log().Info("display: screen working again")
			}
			lastErr = msg
		}
	}
	for {
		now := now()
		if !now.Before(nextFetch) {
			fctx, cancel := context.WithTimeout(ctx, cfg.Interval)
			in = src.get(fctx)
			cancel()
			nextFetch = now.Add(cfg.Interval)
			if k := activityKey(in); k != lastKey {
				lastKey, lastActivity = k, now
			}
		}
		elapsed := now.Sub(start)
		page, shift := int(elapsed/carousel), int(elapsed/shiftEvery)
		// Rendering a TV-sized frame every tick would cost a Pi real CPU;
		// render only when something drawn can have changed.
		// A frame has up to three pages (two codes and the operator code);
		// page mod 6 tells every page of 1, 2 or 3 apart.
		key := fmt.Sprintf("%s|%d|%d", fingerprint(in), page%6, shift%(render.MaxShift+1))
		if img == nil || key != lastRender {
			var err error
			img, err = renderFrame(scr.Size(), in, page, shift)
			if err != nil {
				cfg.log().Warn("display: render", "err", err)
			}
			lastRender = key
		}
		if d, ok := scr.(dimmer); ok && cfg.DimAfter > 0 {
			if err := d.dim(now.Sub(lastActivity) >= cfg.DimAfter); err != nil {
				report(err)
			}
		}
		report(scr.show(ctx, img, now))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// renderFrame renders in; a payload too long to draw must not blank the
// screen, so it then falls back to the "starting" frame.
func renderFrame(size image.Point, in render.Input, page, shift int) (*image.Gray, error) {
	f, err := render.Render(size, in, render.Options{Page: page, Shift: shift})
	if err == nil {
		return f.Image, nil
	}
	fb, ferr := render.Render(size, render.Input{}, render.Options{Shift: shift})
	if ferr != nil {
		return image.NewGray(image.Rect(0, 0, size.X, size.Y)), errors.Join(err, ferr)
	}
	return fb.Image, err
}

// fingerprint identifies the content of in.
func fingerprint(in render.Input) string {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Sprintf("unmarshalable %p %p", in.Hub, in.Hotspot)
	}
	return string(b)
}

// activityKey changes when something a guest would notice changes; the
// OLED stays bright while it does.
func activityKey(in render.Input) string {
	k := in.CallURL + ";"
	if in.Hub != nil {
		k += fmt.Sprintf("hub %d %d %s;", in.Hub.InCall, len(in.Hub.Rooms), in.Hub.AppURL)
	}
	if in.Hotspot != nil {
		k += fmt.Sprintf("wifi %s %d %s;", in.Hotspot.State, len(in.Hotspot.Stations), in.Hotspot.WiFiQR)
	}
	return k
}
