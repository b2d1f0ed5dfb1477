//go:build unix

package unlinkat_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/unlinkat"
)

// The cost of verification: each iteration creates the object (as both
// benchmarks do), opens it where the verified removal needs a descriptor,
// and removes it. Run with RACEFREE_DISABLE=rename_noreplace for the
// directory fallback.

func benchDir(b *testing.B) int {
	dir := b.TempDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	return fd
}

func benchCreate(b *testing.B, dirfd int, dir bool) {
	var err error
	if dir {
		err = unix.Mkdirat(dirfd, "x", 0o755)
	} else {
		var fd int
		if fd, err = unix.Openat(dirfd, "x", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644); err == nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkRemove(b *testing.B) {
	for _, dir := range []bool{false, true} {
		b.Run(map[bool]string{false: "file", true: "dir"}[dir], func(b *testing.B) {
			dfd := benchDir(b)
			for b.Loop() {
				benchCreate(b, dfd, dir)
				if err := unlinkat.Remove(dfd, "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRemoveIfSame(b *testing.B) {
	for _, dir := range []bool{false, true} {
		b.Run(map[bool]string{false: "file", true: "dir"}[dir], func(b *testing.B) {
			dfd := benchDir(b)
			for b.Loop() {
				benchCreate(b, dfd, dir)
				fd, err := unix.Openat(dfd, "x", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				m, err := unlinkat.RemoveIfSame(dfd, "x", fd, false)
				unix.Close(fd)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(0, m.String())
			}
		})
	}
}

// BenchmarkRemoveAllDeep removes a 500-deep chain (three files per level)
// with RemoveAll and with os.RemoveAll; building it is not timed.
func BenchmarkRemoveAllDeep(b *testing.B) {
	for _, which := range []string{"unlinkat", "os"} {
		b.Run(which, func(b *testing.B) {
			dir := b.TempDir()
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer unix.Close(fd)
			for b.Loop() {
				b.StopTimer()
				buildDeep(b, fd, "tree", 500, 0, 0)
				b.StartTimer()
				if which == "os" {
					err = os.RemoveAll(filepath.Join(dir, "tree"))
				} else {
					err = unlinkat.RemoveAll(fd, "tree")
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
