package hotspot

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultModules are the Raspberry Pi's Wi-Fi driver modules, in load order.
// brcmfmac-wcc and -cyw exist only in newer kernels.
var DefaultModules = []string{"brcmutil", "brcmfmac", "brcmfmac-wcc", "brcmfmac-cyw"}

// maxModuleTreeFiles bounds the walk over /lib/modules.
const maxModuleTreeFiles = 100000

// LoadModules loads the named kernel modules with finit_module from
// <root>/<release>/. Modules that are already loaded or built in count as
// success; missing ones are logged and skipped, since a kernel without them
// may still have Wi-Fi (or the caller finds out there is none).
func LoadModules(root string, names []string, log *slog.Logger) error {
	if len(names) == 0 {
		return nil
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	dir := filepath.Join(root, unix.ByteSliceToString(uts.Release[:]))
	paths, err := findModules(dir, names)
	if err != nil {
		log.Info("kernel module tree not readable; relying on built-in drivers", "dir", dir, "err", err)
		return nil
	}
	for _, name := range names {
		p, ok := paths[normModule(name)]
		if !ok {
			log.Debug("kernel module not found", "module", name, "dir", dir)
			continue
		}
		if err := finitModule(p); err != nil {
			return err
		}
		log.Info("kernel module loaded", "module", name)
	}
	return nil
}

func finitModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open kernel module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return fmt.Errorf("finit_module %s: %w", path, err)
}

// normModule treats - and _ alike, as the kernel does.
func normModule(name string) string { return strings.ReplaceAll(name, "-", "_") }

// findModules maps the wanted (normalised) module names to .ko files.
func findModules(dir string, names []string) (map[string]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[normModule(n)] = true
	}
	found := map[string]string{}
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if seen++; seen > maxModuleTreeFiles {
			return fmt.Errorf("more than %d files under %s", maxModuleTreeFiles, dir)
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".ko") {
			return nil
		}
		n := normModule(strings.TrimSuffix(d.Name(), ".ko"))
		if want[n] {
			found[n] = p
		}
		return nil
	})
	return found, err
}
