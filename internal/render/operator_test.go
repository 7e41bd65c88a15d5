package render

import (
	"bytes"
	"image"
	"testing"
)

func withCode(code string, lockout bool) Input {
	in := Sample()
	h := *in.Hub
	h.OperatorCode, h.OperatorLockout = code, lockout
	in.Hub = &h
	return in
}

// Small panels show the operator code on a third page of its own, after
// the two codes guests scan; wide panels keep both codes and add it small.
func TestOperatorCode(t *testing.T) {
	oled := image.Pt(128, 64)
	f, err := Render(oled, withCode("123456", false), Options{Page: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f.Pages != 3 || len(f.QRs) != 0 {
		t.Fatalf("OLED with a code: %d pages, %d codes on page 2; want 3 pages and no QR on the code page", f.Pages, len(f.QRs))
	}
	other, _ := Render(oled, withCode("654321", false), Options{Page: 2})
	locked, _ := Render(oled, withCode("123456", true), Options{Page: 2})
	if bytes.Equal(f.Image.Pix, other.Image.Pix) || bytes.Equal(f.Image.Pix, locked.Image.Pix) {
		t.Error("the code page does not show the code or the lockout")
	}
	if none, _ := Render(oled, Sample(), Options{}); none.Pages != 2 {
		t.Errorf("without a code %d pages, want 2", none.Pages)
	}
	for _, size := range []image.Point{{250, 122}, {1920, 1080}} {
		with, err := Render(size, withCode("123456", false), Options{})
		if err != nil {
			t.Fatal(err)
		}
		without, _ := Render(size, Sample(), Options{})
		if len(with.QRs) != 2 {
			t.Errorf("%v: %d codes with the operator code shown, want both QRs", size, len(with.QRs))
		}
		if bytes.Equal(with.Image.Pix, without.Image.Pix) {
			t.Errorf("%v: the operator code is not drawn", size)
		}
		for _, q := range with.QRs {
			if got := decode(t, with.Image, q, false); got != q.Payload {
				t.Errorf("%v: a code decodes to %q, want %q", size, got, q.Payload)
			}
		}
	}
}
