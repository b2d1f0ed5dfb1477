//go:build unix

package unlinkat_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/unlinkat"
)

// A spool handler holds the job file it processed open, and removes the
// name only if it still refers to that file.
func ExampleRemoveIfSame() {
	dir, err := os.MkdirTemp("", "spool-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "job"), []byte("mine"), 0o644); err != nil {
		log.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat(dirfd, "job", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fd)

	// Someone else's file takes the name: it is left alone.
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("theirs"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "other"), filepath.Join(dir, "job")); err != nil {
		log.Fatal(err)
	}
	_, err = unlinkat.RemoveIfSame(dirfd, "job", fd, true)
	fmt.Println("changed:", errors.Is(err, fallback.ErrChanged))
	data, _ := os.ReadFile(filepath.Join(dir, "job"))
	fmt.Println("job holds:", string(data))
	// Output:
	// changed: true
	// job holds: theirs
}

// RemoveAll removes a tree through descriptors; a symlink inside it is
// removed, never followed.
func ExampleRemoveAll() {
	dir, err := os.MkdirTemp("", "tree-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "cache/a/b"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("outside the tree"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Symlink("../../keep", filepath.Join(dir, "cache/a/link")); err != nil {
		log.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(dirfd)

	if err := unlinkat.RemoveAll(dirfd, "cache"); err != nil {
		log.Fatal(err)
	}
	_, err = os.Lstat(filepath.Join(dir, "cache"))
	fmt.Println("cache gone:", errors.Is(err, os.ErrNotExist))
	data, _ := os.ReadFile(filepath.Join(dir, "keep"))
	fmt.Println("keep:", string(data))
	// Output:
	// cache gone: true
	// keep: outside the tree
}
