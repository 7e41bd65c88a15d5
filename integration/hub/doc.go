// Package hub holds the heavy tests of the call hub: they build the hub
// binary and the repository's tools/hubprobe client, run the hub as a
// process on loopback ports and check it from the outside. Run them with
// `make test-hub`.
package hub
