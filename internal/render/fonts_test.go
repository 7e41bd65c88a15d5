package render

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// TestFontsGenUpToDate runs fonts.go's go:generate command with the output
// sent to a temporary file and compares it with the committed
// fonts_gen.go, so the tables cannot drift from their font sources.
func TestFontsGenUpToDate(t *testing.T) {
	gocmd := testenv.RequireProgram(t, "go")[0]
	src, err := os.ReadFile("fonts.go")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate "); ok {
			args = strings.Fields(rest)
		}
	}
	// go run fontgen/main.go -o fonts_gen.go FILE NAME...
	if len(args) < 6 || args[0] != "go" || args[1] != "run" || args[3] != "-o" || args[4] != "fonts_gen.go" {
		t.Fatalf("unexpected go:generate line in fonts.go: %q", args)
	}
	out := filepath.Join(t.TempDir(), "fonts_gen.go")
	args[4] = out
	cmd := exec.Command(gocmd, args[1:]...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", args, err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("fonts_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("fonts_gen.go differs from what its sources generate (%d vs %d bytes); run make generate and commit", len(want), len(got))
	}
}
