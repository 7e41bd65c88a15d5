package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type doc struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	want := doc{Name: "x", N: 3}
	if err := WriteJSON(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	var got doc
	if err := ReadJSON(path, &got, nil); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestMissing(t *testing.T) {
	var d doc
	err := ReadJSON(filepath.Join(t.TempDir(), "none.json"), &d, nil)
	if !errors.Is(err, ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestCorruptIsMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name     string
		content  string
		validate func(*doc) error
	}{
		{"garbage", "{not json", nil},
		{"truncated", `{"name":"x","n":`, nil},
		{"invalid", `{"name":"","n":1}`, func(d *doc) error {
			if d.Name == "" {
				return errors.New("empty name")
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var d doc
			var validate func() error
			if tc.validate != nil {
				validate = func() error { return tc.validate(&d) }
			}
			err := ReadJSON(path, &d, validate)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CorruptError", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("corrupt file still at %s", path)
			}
			moved, err := os.ReadFile(ce.MovedTo)
			if err != nil {
				t.Fatalf("moved-aside file: %v", err)
			}
			if string(moved) != tc.content {
				t.Errorf("moved-aside content = %q", moved)
			}
			if !strings.Contains(ce.Error(), "corrupt") {
				t.Errorf("message %q does not say corrupt", ce.Error())
			}
		})
	}
}

func TestWriteFailsCleanlyInReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if err := WriteFile(filepath.Join(f, "state.json"), []byte("x"), 0o600); err == nil {
			t.Fatal("write under a regular file succeeded")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if err := WriteFile(filepath.Join(dir, "state.json"), []byte("x"), 0o600); err == nil {
		t.Fatal("write into read-only dir succeeded")
	}
}
