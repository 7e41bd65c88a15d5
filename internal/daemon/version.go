package daemon

import (
	"runtime/debug"
	"strings"
)

// Module is this repository's module path.
const Module = "github.com/kibitzbox/kibitzbox"

// VersionVar is the variable the build stamps with
// -ldflags "-X <VersionVar>=<version>" (make and the image builds do,
// through LDFlags; see docs/development.md).
const VersionVar = Module + "/internal/daemon.version"

// version is stamped at link time; empty when the build did not.
var version string

// LDFlags returns the go build flag that stamps v as the version of any
// of the three programs.
func LDFlags(v string) string { return "-ldflags=-X " + VersionVar + "=" + v }

// Version is the version of this build, the same for the three programs:
// the stamped one, else what the go command recorded (the module version
// of `go install …@v1.2.3`, or the VCS revision of a build in a
// checkout), else "dev".
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, bi)
}

func versionFrom(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return "dev"
	}
	// gok builds the programs from a builddir module that requires this
	// one; the main package's module is then this module at the required
	// version, or, with the builddir's replace of the checkout, at a
	// placeholder version that says nothing.
	if m := bi.Main; m.Path == Module && m.Replace == nil && realVersion(m.Version) {
		return m.Version
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	rev = rev[:min(len(rev), 12)]
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// realVersion reports whether v names a version rather than a placeholder.
func realVersion(v string) bool {
	return v != "" && v != "(devel)" && !strings.HasPrefix(v, "v0.0.0-00010101000000-")
}
