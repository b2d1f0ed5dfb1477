package fstests_test

import (
	"os"
	"testing"

	"github.com/racefree/racefree/fstests"
)

// testMyFilesystem is a test of your own: copy it into a _test.go file of
// your module as TestMyFilesystem, and run it on the filesystem you care
// about (an NFS export, a FUSE mount, the overlayfs of a container):
//
//	RACEFREE_SCRATCH=/mnt/nfs/scratch go test -run TestMyFilesystem -v
//
// Run it again with RACEFREE_DISABLE=all (and the other profiles) to check
// the fallbacks too, and as an unprivileged user to check what permissions
// change.
func testMyFilesystem(t *testing.T) {
	dir := os.Getenv("RACEFREE_SCRATCH")
	if dir == "" {
		t.Skip("set RACEFREE_SCRATCH to a writable directory on the filesystem to check")
	}
	fstests.Run(t, fstests.Options{
		Dir: dir,
		// An attack whose naive control is never caught proved nothing
		// here: fail rather than skip it.
		RequireControl: true,
	})
}

func ExampleRun() {
	// See testMyFilesystem above: Run needs the *testing.T of a test.
	_ = testMyFilesystem
}
