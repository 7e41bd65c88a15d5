package hotspot_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// initramfs collects files for a newc cpio archive, the format the kernel
// unpacks into its root file system.
type initramfs struct {
	entries map[string]entry
}

type entry struct {
	mode uint32 // including the file type bits
	data []byte
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
)

func newInitramfs() *initramfs { return &initramfs{entries: map[string]entry{}} }

func (r *initramfs) mkdirAll(dir string) {
	dir = strings.Trim(path.Clean(dir), "/")
	for dir != "" && dir != "." {
		if _, ok := r.entries[dir]; ok {
			return
		}
		r.entries[dir] = entry{mode: modeDir | 0o755}
		dir = path.Dir(dir)
	}
}

func (r *initramfs) addBytes(name string, perm uint32, data []byte) {
	name = strings.Trim(path.Clean(name), "/")
	r.mkdirAll(path.Dir(name))
	r.entries[name] = entry{mode: modeFile | perm, data: data}
}

// addFile copies a host file (following symlinks) to name.
func (r *initramfs) addFile(name, hostPath string) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	st, err := os.Stat(hostPath)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	r.addBytes(name, uint32(st.Mode().Perm()), data)
	return nil
}

// writeTo writes the archive; parents sort before their children.
func (r *initramfs) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	ino := 1
	for _, n := range names {
		e := r.entries[n]
		if err := writeEntry(bw, ino, n, e.mode, e.data); err != nil {
			return err
		}
		ino++
	}
	if err := writeEntry(bw, 0, "TRAILER!!!", 0, nil); err != nil {
		return err
	}
	return bw.Flush()
}

func writeEntry(w *bufio.Writer, ino int, name string, mode uint32, data []byte) error {
	nlink := 1
	if mode&modeDir == modeDir && mode&modeFile != modeFile {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.WriteString(hdr)
	w.WriteString(name)
	w.WriteByte(0)
	pad(w, len(hdr)+len(name)+1)
	w.Write(data)
	pad(w, len(data))
	return nil
}

func pad(w *bufio.Writer, n int) {
	for n%4 != 0 {
		w.WriteByte(0)
		n++
	}
}
