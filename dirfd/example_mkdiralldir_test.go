//go:build unix

package dirfd_test

import (
	"fmt"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
)

// A container runtime makes a mount target inside a rootfs the container
// controls, and needs a handle on exactly the directory it made: a second
// lookup of the name could be redirected by a rename in between.
func ExampleDir_MkdirAllDir() {
	rootfs := exampleTree(map[string]string{"var/run/.keep": ""}, map[string]string{"run": "/var/run"})
	defer os.RemoveAll(rootfs)

	root, err := dirfd.Open(rootfs, dirfd.InRoot())
	if err != nil {
		log.Fatal(err)
	}
	defer root.Close()

	// "run" is an absolute symlink: InRoot resolves it inside the rootfs.
	target, err := root.MkdirAllDir("run/secrets/app", 0o755)
	if err != nil {
		log.Fatal(err)
	}
	defer target.Close()
	if err := target.WriteFile("token", []byte("s3cr3t"), 0o600); err != nil {
		log.Fatal(err)
	}
	data, err := root.ReadFile("var/run/secrets/app/token")
	fmt.Println(string(data), err)
	// Output: s3cr3t <nil>
}
