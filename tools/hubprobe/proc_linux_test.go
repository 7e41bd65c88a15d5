package main

import (
	"os"
	"testing"
)

func TestProcWatchOfSelf(t *testing.T) {
	w := watchProc(os.Getpid())
	if w == nil {
		t.Fatal("cannot read /proc for this process")
	}
	d := w.Stop()
	if d == nil || d.RSSEndMiB <= 0 || d.RSSPeakMiB < d.RSSEndMiB || d.Threads < 1 || d.CPUSec < 0 {
		t.Errorf("delta of this process %+v", d)
	}
}
