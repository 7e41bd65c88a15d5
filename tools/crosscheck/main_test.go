package main

import (
	"strings"
	"testing"
)

func TestCheckFindsAPlatformBreak(t *testing.T) {
	const pkg = "./testdata/linuxonly"
	if n, err := check("linux", "arm64", []string{pkg}); err != nil || n < 2 {
		t.Fatalf("linux/arm64: %d packages, %v; want it to type-check with its imports", n, err)
	}
	for _, target := range [][2]string{{"darwin", "arm64"}, {"windows", "amd64"}} {
		_, err := check(target[0], target[1], []string{pkg})
		if err == nil || !strings.Contains(err.Error(), "SO_RCVBUFFORCE") {
			t.Errorf("%s/%s: got %v, want an undefined SO_RCVBUFFORCE", target[0], target[1], err)
		}
	}
}
