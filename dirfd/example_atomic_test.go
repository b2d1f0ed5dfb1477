//go:build unix

package dirfd_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/racefree/racefree/dirfd"
)

func ExampleDir_WriteFile() {
	dir := exampleTree(map[string]string{"config/app.conf": "port = 8080\n"}, map[string]string{"current.conf": "config/app.conf"})
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// Readers of config/app.conf see the old or the new content, never a
	// partial file. The symlink is written through: its target is replaced,
	// the link itself stays.
	if err := d.WriteFile("current.conf", []byte("port = 9090\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	data, err := d.ReadFile("config/app.conf")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output: port = 9090
}

func ExampleDir_CreateAtomic() {
	dir := exampleTree(map[string]string{"report.csv": "old\n"}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	f, err := d.CreateAtomic("report.csv", 0o644)
	if err != nil {
		log.Fatal(err)
	}
	// Close discards everything unless Commit has published the file.
	defer f.Close()
	for i := range 3 {
		fmt.Fprintf(f, "row %d\n", i)
	}
	data, _ := d.ReadFile("report.csv")
	fmt.Printf("before Commit: %q\n", data)
	if err := f.Commit(); err != nil {
		log.Fatal(err)
	}
	data, _ = d.ReadFile("report.csv")
	fmt.Printf("after Commit: %q\n", data)
	// Output:
	// before Commit: "old\n"
	// after Commit: "row 0\nrow 1\nrow 2\n"
}

func ExampleDir_RemoveStale() {
	dir := exampleTree(map[string]string{"data": "x"}, nil)
	defer os.RemoveAll(dir)
	// What a writer killed in the middle of WriteFile leaves behind: its
	// private staging directory.
	if err := os.Mkdir(filepath.Join(dir, ".racefree-5f3a9c005f3a9c005f3a9c005f3a9c00"), 0o700); err != nil {
		log.Fatal(err)
	}
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// At start-up, before any other writer runs, 0 removes every leftover;
	// while others may be writing, pass an age no operation lasts.
	n, err := d.RemoveStale(0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed", n)
	n, _ = d.RemoveStale(time.Hour)
	fmt.Println("removed", n)
	// Output:
	// removed 1
	// removed 0
}
