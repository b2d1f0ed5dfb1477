//go:build unix

package extract_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
)

// exampleArchive is a tar archive of files (name, content pairs).
func exampleArchive(files ...string) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1]))})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// exampleDir opens a fresh directory; done closes and removes it.
func exampleDir() (d *dirfd.Dir, done func()) {
	dir, err := os.MkdirTemp("", "racefree-example-")
	if err != nil {
		log.Fatal(err)
	}
	if d, err = dirfd.Open(dir); err != nil {
		log.Fatal(err)
	}
	return d, func() { d.Close(); os.RemoveAll(dir) }
}

func ExampleTar() {
	d, done := exampleDir()
	defer done()

	// A zip-slip archive: the second entry climbs out. It is refused,
	// naming the entry; the first one stays, complete.
	_, err := extract.Tar(d, exampleArchive("notes.txt", "hello\n", "../../etc/cron.d/evil", "* * * * * root sh\n"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, dirfd.ErrEscape))
	data, _ := d.ReadFile("notes.txt")
	fmt.Print(string(data))
	// Output:
	// extract ../../etc/cron.d/evil: directory "../../etc/cron.d": path escapes from the directory
	// true
	// hello
}

// Extraction inside Install is all or nothing: readers of "app" see the
// old tree or the whole new one, and an archive that fails midway leaves
// the old tree as it was.
func ExampleTar_install() {
	d, done := exampleDir()
	defer done()

	for _, archive := range []*bytes.Reader{
		exampleArchive("version", "1\n"),
		exampleArchive("version", "2\n", "../evil", "x"), // fails: the old tree stays
		exampleArchive("version", "3\n"),                 // succeeds: the new tree, at once
	} {
		err := d.Install("app", func(stage *dirfd.Dir) error {
			_, err := extract.Tar(stage, archive)
			return err
		})
		version, _ := d.ReadFile("app/version")
		fmt.Printf("installed: %v, app/version: %s", err == nil, version)
	}
	// Output:
	// installed: true, app/version: 1
	// installed: false, app/version: 1
	// installed: true, app/version: 3
}
