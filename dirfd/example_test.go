//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/racefree/racefree/dirfd"
)

// exampleTree makes a directory for an example: files maps names to
// contents, links maps symlink names to targets.
func exampleTree(files, links map[string]string) string {
	dir, err := os.MkdirTemp("", "racefree-example-")
	if err != nil {
		log.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			log.Fatal(err)
		}
	}
	return dir
}

func ExampleOpen() {
	dir := exampleTree(map[string]string{"config/app.conf": "port = 8080\n"}, nil)
	defer os.RemoveAll(dir)

	// Everything done through d stays inside dir.
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	data, err := d.ReadFile("config/app.conf")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output: port = 8080
}

func ExampleDir_Open() {
	dir := exampleTree(map[string]string{"logs/today.log": "started\nstopped\n"}, map[string]string{"current": "logs/today.log"})
	defer os.RemoveAll(dir)

	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A symlink that stays inside the tree is followed as usual.
	f, err := d.Open("current")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output:
	// started
	// stopped
}

// A container's rootfs holds an absolute symlink. Seen from inside the
// container (InRoot) it names the container's own file; followed by the
// host (Beneath, the default) it would leave the rootfs, and is refused.
func ExampleInRoot() {
	rootfs := exampleTree(
		map[string]string{"etc/hostname": "container\n"},
		map[string]string{"hostname-link": "/etc/hostname"},
	)
	defer os.RemoveAll(rootfs)

	in, err := dirfd.Open(rootfs, dirfd.InRoot())
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	data, err := in.ReadFile("hostname-link")
	fmt.Printf("InRoot:  %q %v\n", data, err)

	// ".." at the top stays at the top, as in a chroot.
	data, err = in.ReadFile("../../../etc/hostname")
	fmt.Printf("InRoot:  %q %v\n", data, err)

	beneath, err := dirfd.Open(rootfs)
	if err != nil {
		log.Fatal(err)
	}
	defer beneath.Close()
	_, err = beneath.ReadFile("hostname-link")
	fmt.Println("Beneath: escape:", errors.Is(err, dirfd.ErrEscape))
	// Output:
	// InRoot:  "container\n" <nil>
	// InRoot:  "container\n" <nil>
	// Beneath: escape: true
}

func ExampleErrEscape() {
	dir := exampleTree(nil, map[string]string{"uploads": "../../etc"})
	defer os.RemoveAll(dir)

	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A planted symlink, "..", or an absolute name: each would leave the
	// tree, and each is refused with an error matching ErrEscape.
	for _, name := range []string{"uploads/passwd", "../secret", "/etc/passwd"} {
		_, err := d.Open(name)
		fmt.Printf("%s: escape=%v\n", name, errors.Is(err, dirfd.ErrEscape))
	}
	// Output:
	// uploads/passwd: escape=true
	// ../secret: escape=true
	// /etc/passwd: escape=true
}

func ExampleDir_OpenHandle() {
	dir := exampleTree(map[string]string{"data": "payload"}, map[string]string{"latest": "data"})
	defer os.RemoveAll(dir)

	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A handle pins the object itself; a final symlink is not followed.
	h, err := d.OpenHandle("latest")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		log.Fatal(err)
	}
	target, err := h.Readlink()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fi.Name(), fi.Mode().Type(), "->", target)

	// Renaming the name away does not change what the handle refers to.
	if err := d.Rename("latest", "previous"); err != nil {
		log.Fatal(err)
	}
	if err := d.Symlink("elsewhere", "latest"); err != nil {
		log.Fatal(err)
	}
	target, err = h.Readlink()
	fmt.Println("still ->", target, err)
	// Output:
	// latest L--------- -> data
	// still -> data <nil>
}
