//go:build unix

package dirfd_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/renameat2"
)

// A spool directory hands a finished upload to a container's rootfs: each
// tree is held by its own Dir, so neither name can lead out of its tree,
// and NoReplace keeps a file already delivered.
func ExampleRenameBetween() {
	dir := exampleTree(map[string]string{
		"spool/upload-1":   "payload\n",
		"rootfs/inbox/old": "delivered before\n",
	}, nil)
	defer os.RemoveAll(dir)
	spool, err := dirfd.Open(filepath.Join(dir, "spool"))
	if err != nil {
		log.Fatal(err)
	}
	defer spool.Close()
	rootfs, err := dirfd.Open(filepath.Join(dir, "rootfs"), dirfd.InRoot())
	if err != nil {
		log.Fatal(err)
	}
	defer rootfs.Close()

	if err := dirfd.RenameBetween(spool, "upload-1", rootfs, "/inbox/new", renameat2.NoReplace); err != nil {
		log.Fatal(err)
	}
	data, err := rootfs.ReadFile("inbox/new")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output: payload
}
