// Package linuxonly uses a Linux-only socket option in a file without a
// build constraint: it builds on Linux and nowhere else.
package linuxonly

import "golang.org/x/sys/unix"

// Opt is defined on Linux only.
var Opt = unix.SO_RCVBUFFORCE
