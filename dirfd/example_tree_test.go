//go:build unix

package dirfd_test

import (
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/racefree/racefree/dirfd"
)

func ExampleDir_WalkDir() {
	dir := exampleTree(map[string]string{"site/index.html": "<h1>hi</h1>", "site/img/logo.png": "png"}, map[string]string{"site/escape": "/etc"})
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// Each directory is held by descriptor while its entries are visited;
	// the symlink is reported, not followed.
	err = d.WalkDir("site", func(path string, e *dirfd.Entry, err error) error {
		if err != nil {
			return err
		}
		fmt.Println(path, e.Type())
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// site d---------
	// site/escape L---------
	// site/img d---------
	// site/img/logo.png ----------
	// site/index.html ----------
}

func ExampleDir_ChmodTree() {
	dir := exampleTree(map[string]string{"upload/a.txt": "a", "upload/sub/b.txt": "b"}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// chmod -R u=rwX,g=rX,o=: the function sees each object's mode and
	// returns the one it wants; an unchanged mode costs nothing.
	err = d.ChmodTree("upload", func(path string, info fs.FileInfo) fs.FileMode {
		m := info.Mode()&^fs.ModePerm | 0o640
		if info.IsDir() {
			m |= 0o110
		}
		return m
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"upload", "upload/a.txt", "upload/sub", "upload/sub/b.txt"} {
		fi, err := d.Lstat(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, fi.Mode())
	}
	// Output:
	// upload drwxr-x---
	// upload/a.txt -rw-r-----
	// upload/sub drwxr-x---
	// upload/sub/b.txt -rw-r-----
}

func ExampleDir_ChownTree() {
	dir := exampleTree(map[string]string{"volume/data/db": "x"}, map[string]string{"volume/link": "/etc/passwd"})
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// A kubelet-style fsGroup pass: every object gets the group, symlinks
	// themselves (never /etc/passwd); objects that have it already cost
	// one fstatat and no chown.
	if err := d.ChownTree("volume", -1, os.Getegid()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("done")
	// Output: done
}

func ExampleCopyTree() {
	dir := exampleTree(map[string]string{"release/bin/tool": "#!/bin/sh\n", "release/etc/tool.conf": "debug = false\n"}, map[string]string{"release/current": "bin/tool"})
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// cp -a release backup, reading release only through descriptors.
	if err := dirfd.CopyTree(d, "backup", d, "release"); err != nil {
		log.Fatal(err)
	}
	target, err := d.Readlink("backup/current")
	if err != nil {
		log.Fatal(err)
	}
	data, err := d.ReadFile("backup/etc/tool.conf")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("backup/current -> %s\nbackup/etc/tool.conf: %s", target, data)
	// Output:
	// backup/current -> bin/tool
	// backup/etc/tool.conf: debug = false
}
