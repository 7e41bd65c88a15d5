package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// fakeGok is a gok stand-in that records that it ran: mkimage.sh must refuse
// bad targets before it ever calls gok.
func fakeGok(t *testing.T) (path, marker string) {
	t.Helper()
	dir := t.TempDir()
	marker = filepath.Join(dir, "gok-ran")
	path = filepath.Join(dir, "gok")
	if err := os.WriteFile(path, []byte("#!/bin/sh\ntouch "+marker+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, marker
}

func runMkimage(t *testing.T, gok string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "gokrazy", "mkimage.sh"), args...)
	cmd.Env = append(os.Environ(), "GOK="+gok)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMkimageRejectsBadImageSize(t *testing.T) {
	gok, marker := fakeGok(t)
	for _, size := range []string{"1000000000", "2147483647"} { // too small; not a multiple of 512
		out, err := runMkimage(t, gok, filepath.Join(repoRoot(t), "gokrazy"), "pi", filepath.Join(t.TempDir(), "x.img"), size)
		if err == nil || !strings.Contains(out, "multiple of 512 and at least") {
			t.Errorf("size %s: err %v, output %q; want a refusal", size, err, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("gok ran although the size was invalid")
	}
}

// TestMkimageRefusesMountedDevice: make image DEV=... must not overwrite a
// device that is in use. A loop device stands in for the SD card.
func TestMkimageRefusesMountedDevice(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireProgram(t, "losetup", "mount", "umount", "mkfs.ext4", "lsblk", "findmnt")
	backing := filepath.Join(t.TempDir(), "card.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Sparse; big enough that mkimage.sh's size check passes.
	if err := os.Truncate(backing, 2<<30); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", backing).Output()
	testenv.Require(t, err == nil, "loop devices (losetup --find): "+errString(err))
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 %s: %v\n%s", dev, err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", dev, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	gok, marker := fakeGok(t)
	msg, err := runMkimage(t, gok, filepath.Join(repoRoot(t), "gokrazy"), "pi", dev)
	if err == nil || !strings.Contains(msg, "is mounted") {
		t.Errorf("mkimage on mounted %s: err %v, output %q; want a refusal", dev, err, msg)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("gok ran against the mounted device %s", dev)
	}

	// Unmounted, the same device is accepted: gok (the fake) gets called.
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	msg, _ = runMkimage(t, gok, filepath.Join(repoRoot(t), "gokrazy"), "pi", dev)
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("mkimage did not get to gok for the unmounted %s: %q", dev, msg)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config.json")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}
