package hub

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/kibitzbox/kibitzbox/internal/statefile"
)

// IDFile keeps the highest id the hub has reserved, so ids never repeat
// across restarts: a client that kept an old id in its roster must never
// meet a new peer with the same id.
const IDFile = "hub-ids.json"

// idBlock is how many ids one write of IDFile reserves.
const idBlock = 4096

// maxSafeID is 2^53-1, the largest integer a JavaScript number holds exactly.
const maxSafeID = 1<<53 - 1

type idFile struct {
	Reserved int64 `json:"reserved"`
}

// idAllocator hands out ids from blocks reserved in IDFile before use.
type idAllocator struct {
	mu       sync.Mutex
	path     string // empty: no persistence (tests)
	next     int64
	reserved int64 // ids < reserved may be handed out
}

func newIDAllocator(stateDir string, log *slog.Logger) (*idAllocator, error) {
	a := &idAllocator{next: 1}
	if stateDir == "" {
		a.reserved = maxSafeID
		return a, nil
	}
	a.path = filepath.Join(stateDir, IDFile)
	var f idFile
	err := statefile.ReadJSON(a.path, &f, func() error {
		if f.Reserved < 1 || f.Reserved > maxSafeID-idBlock {
			return fmt.Errorf("reserved id %d out of range", f.Reserved)
		}
		return nil
	})
	var corrupt *statefile.CorruptError
	switch {
	case err == nil:
		a.next = f.Reserved
	case errors.Is(err, fs.ErrNotExist):
	case errors.As(err, &corrupt):
		// The high-water mark is lost: jump to a random point far above any
		// id a small box hands out, so a repeat is very unlikely.
		var b [8]byte
		if _, rerr := rand.Read(b[:]); rerr != nil {
			return nil, fmt.Errorf("random id base: %w", rerr)
		}
		a.next = 1<<32 + int64(binary.BigEndian.Uint64(b[:])%(1<<40))
		log.Error("hub id file is corrupt; continuing from a random id", "path", a.path, "moved_to", corrupt.MovedTo, "err", corrupt.Err, "next_id", a.next)
	default:
		return nil, fmt.Errorf("load hub ids: %w", err)
	}
	a.reserved = a.next
	if err := a.reserveLocked(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *idAllocator) reserveLocked() error {
	end := a.next + idBlock
	if end > maxSafeID {
		return errors.New("hub ids exhausted")
	}
	if a.path != "" {
		if err := statefile.WriteJSON(a.path, idFile{Reserved: end}, 0o600); err != nil {
			return fmt.Errorf("reserve hub ids: %w", err)
		}
	}
	a.reserved = end
	return nil
}

// next returns a fresh id.
func (a *idAllocator) nextID() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.reserved {
		if err := a.reserveLocked(); err != nil {
			return 0, err
		}
	}
	id := a.next
	a.next++
	return id, nil
}
