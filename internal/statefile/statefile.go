// Package statefile reads and writes the small JSON state files the daemons
// keep in their state directory: atomically, and without letting a corrupt
// file stop the box from starting.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// WriteFile replaces path with data atomically: it writes a temporary file in
// the same directory, syncs it, renames it over path and syncs the directory.
// A crash or a full disk leaves either the old or the new content, never a mix.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every filesystem supports syncing a directory
		d.Close()
	}
	return nil
}

// WriteJSON encodes v with indentation and writes it with WriteFile.
func WriteJSON(path string, v any, perm fs.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'), perm)
}

// ErrNotExist is returned by ReadJSON when there is no state file yet.
var ErrNotExist = fs.ErrNotExist

// CorruptError is returned by ReadJSON when the file existed but could not be
// decoded (or validated). The file has been moved to MovedTo so that the
// caller can start afresh without losing the evidence.
type CorruptError struct {
	Path    string
	MovedTo string
	Err     error
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("state file %s is corrupt (%v) and could not be moved aside", e.Path, e.Err)
	}
	return fmt.Sprintf("state file %s is corrupt (%v); moved to %s", e.Path, e.Err, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ReadJSON decodes path into v and, if validate is not nil, checks it.
// It returns an error wrapping ErrNotExist if the file is missing, and a
// *CorruptError if it cannot be read, decoded or validated; in that case the
// file is renamed to "<path>.corrupt-<unix time>".
func ReadJSON(path string, v any, validate func() error) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err == nil && validate != nil {
		err = validate()
	}
	if err == nil {
		return nil
	}
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	if rerr := os.Rename(path, aside); rerr != nil {
		aside = ""
	}
	return &CorruptError{Path: path, MovedTo: aside, Err: err}
}
