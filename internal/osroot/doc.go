// Package osroot holds the conformance check that runs Go's own os.Root
// tests against dirfd.Dir. It has no code of its own to import: the test
// copies src/os/root_test.go and root_unix_test.go from the installed
// toolchain at test time, points every os.Root, os.OpenRoot, os.OpenInRoot
// and os.ErrPathEscapes in them at a thin adapter over dirfd.Dir
// (adapter_test.go), builds them next to it with go test -overlay, and runs
// the result under every capability profile. Nothing of Go's source is
// stored in this repository.
package osroot
