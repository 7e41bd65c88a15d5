//go:build !linux

package hubd

// Only the box (Linux under gokrazy) reboots or restarts services from the
// operator page.
func onGokrazy() bool                        { return false }
func boxReboot() func() error                { return nil }
func boxRestart() func(service string) error { return nil }
