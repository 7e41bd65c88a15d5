package render

import (
	"bytes"
	"image"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/status"
)

func withAir(totalKbps float64, videoFull bool) Input {
	in := Sample()
	h := *in.Hub
	h.Air = &status.Air{BudgetKbps: 3000, TotalKbps: totalKbps, VideoFull: videoFull}
	in.Hub = &h
	return in
}

// The wide screens show the air gauge, filled by use; the OLED says
// "video full" when a newcomer would get audio only.
func TestAirGauge(t *testing.T) {
	for _, size := range []image.Point{{250, 122}, {1920, 1080}} {
		low, err := Render(size, withAir(300, false), Options{})
		if err != nil {
			t.Fatal(err)
		}
		high, _ := Render(size, withAir(2700, false), Options{})
		none, _ := Render(size, Sample(), Options{})
		if bytes.Equal(low.Image.Pix, high.Image.Pix) || bytes.Equal(low.Image.Pix, none.Image.Pix) {
			t.Errorf("%v: the air gauge does not show the use", size)
		}
		if len(high.QRs) != 2 {
			t.Errorf("%v: %d codes with the gauge, want both", size, len(high.QRs))
		}
		for _, q := range high.QRs {
			if got := decode(t, high.Image, q, false); got != q.Payload {
				t.Errorf("%v: a code decodes to %q with the gauge shown", size, got)
			}
		}
	}
	in := withAir(2900, true)
	if got := in.airLines()[0]; got != "air 97% of 3.0 Mb/s, video full" {
		t.Errorf("air line %q", got)
	}
	oled := image.Pt(128, 64)
	full, _ := Render(oled, in, Options{Page: 1})
	notFull, _ := Render(oled, withAir(2900, false), Options{Page: 1})
	if bytes.Equal(full.Image.Pix, notFull.Image.Pix) {
		t.Error("the OLED does not say video full")
	}
}
