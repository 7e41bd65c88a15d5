package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"ok\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"run","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: needs root\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"Action":"run","Package":"q","Test":"TestD"}`,
		`{"Action":"output","Package":"q","Test":"TestD","Output":"    d_test.go:3: needs chromium\n"}`,
		`{"Action":"skip","Package":"q","Test":"TestD"}`,
		`{"Action":"pass","Package":"q"}`,
	}, "\n")
	var out strings.Builder
	failed, err := report(strings.NewReader(in), &out, false)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("failed = false")
	}
	got := out.String()
	for _, want := range []string{"=== FAILED p TestB", "boom", "SKIP p TestC: needs root", "SKIP q TestD: needs chromium", "1 passed, 2 failed, 2 skipped"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// In CI (-strict) a skipped test fails the run even when nothing else did,
// and every retry a test logged is listed, also for tests that passed.
func TestStrictSkipsAndRetries(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:7: RETRY: qemu boot: attempt 1 of 2 failed: early panic\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: needs root\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"pass","Package":"p"}`,
	}, "\n")
	for _, strict := range []bool{false, true} {
		var out strings.Builder
		failed, err := report(strings.NewReader(in), &out, strict)
		if err != nil {
			t.Fatal(err)
		}
		if failed != strict {
			t.Errorf("strict=%v: failed = %v, want %v\n%s", strict, failed, strict, out.String())
		}
		got := out.String()
		for _, want := range []string{"Retries (1):", "RETRY p TestA: qemu boot: attempt 1 of 2 failed: early panic", "1 passed, 0 failed, 1 skipped"} {
			if !strings.Contains(got, want) {
				t.Errorf("strict=%v: output lacks %q:\n%s", strict, want, got)
			}
		}
	}
}
