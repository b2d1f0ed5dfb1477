//go:build unix

package dirfd_test

import (
	"fmt"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
)

func ExampleDir_ReplaceFile() {
	// uploads/latest is a symlink someone planted, pointing at a file
	// that must not change.
	dir := exampleTree(map[string]string{"precious": "keep me\n"}, map[string]string{"latest": "precious"})
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// The new file is written where nobody can see it and then put in
	// place of whatever "latest" is: the symlink is replaced, never
	// written through.
	err = d.ReplaceFile("latest", 0o644, func(f *os.File) error {
		_, err := f.WriteString("new upload\n")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	latest, _ := d.ReadFile("latest")
	precious, _ := d.ReadFile("precious")
	fmt.Print(string(latest), string(precious))
	// Output:
	// new upload
	// keep me
}
