//go:build unix

package dirfd_test

import (
	"fmt"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
)

func ExampleDir_ReplaceLink() {
	dir := exampleTree(map[string]string{
		"releases/v1/app.conf": "version 1\n",
		"releases/v2/app.conf": "version 2\n",
		"app.conf":             "version 1\n",
	}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// Readers of app.conf see version 1 or version 2, never no file.
	if err := d.ReplaceLink("releases/v2/app.conf", "app.conf"); err != nil {
		log.Fatal(err)
	}
	data, err := d.ReadFile("app.conf")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output: version 2
}
