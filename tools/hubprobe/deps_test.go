package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoHubPackage keeps hubprobe an outside check: if it imported
// the hub's own packages (its blob parser, its frame types), a bug there
// would be shared by the hub and the tool that is meant to catch it.
func TestImportsNoHubPackage(t *testing.T) {
	self, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list .: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	const hub = "github.com/kibitzbox/kibitzbox"
	selfPath := strings.TrimSpace(string(self))
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		n++
		if pkg == selfPath {
			continue
		}
		if pkg == hub || strings.HasPrefix(pkg, hub+"/") {
			t.Errorf("hubprobe imports the hub's package %s", pkg)
		}
	}
	if n < 2 || !strings.Contains(string(out), "github.com/pion/webrtc/v4") {
		t.Fatalf("go list -deps gave an implausible list (%d packages):\n%s", n, out)
	}
}
