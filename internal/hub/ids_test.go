package hub

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestIDAllocatorPersistsHighWaterMark(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	a, err := newIDAllocator(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	var max int64
	for i := 0; i < idBlock+10; i++ { // crosses a block boundary
		id, err := a.nextID()
		if err != nil {
			t.Fatal(err)
		}
		if id <= 0 || seen[id] {
			t.Fatalf("id %d repeated or not positive", id)
		}
		seen[id] = true
		max = id
	}
	b, err := newIDAllocator(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := b.nextID()
	if id <= max {
		t.Fatalf("after restart id %d ≤ %d", id, max)
	}
	if err := os.WriteFile(filepath.Join(dir, IDFile), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := newIDAllocator(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	id, _ = c.nextID()
	if id < 1<<32 || id > maxSafeID {
		t.Fatalf("after a corrupt file id %d, want a random high safe integer", id)
	}
}
