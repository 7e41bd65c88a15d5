package main

import "runtime/debug"

// debugBuildInfo returns the main module's version from the build info.
func debugBuildInfo() (string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "", false
	}
	return bi.Main.Version, true
}
