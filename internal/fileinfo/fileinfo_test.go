//go:build unix

package fileinfo

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNewIsPackageOSFileInfo: what New, Fstat and Lstatat return is package
// os's own FileInfo, so os.SameFile accepts it (code moving from os.Root
// compares identities with it), and it says what os.Lstat says.
func TestNewIsPackageOSFileInfo(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("four"), 0o640))
	must(t, os.Mkdir(filepath.Join(dir, "d"), 0o750))
	must(t, os.Symlink("f", filepath.Join(dir, "l")))
	must(t, os.Chmod(filepath.Join(dir, "d"), 0o750|os.ModeSetgid|os.ModeSticky))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(dfd)

	for _, name := range []string{"f", "d", "l"} {
		want, err := os.Lstat(filepath.Join(dir, name))
		must(t, err)
		got, err := Lstatat(dfd, name)
		must(t, err)
		if !os.SameFile(got, want) {
			t.Errorf("os.SameFile(Lstatat(%s), os.Lstat) = false, want true (%T)", name, got)
		}
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
			!got.ModTime().Equal(want.ModTime()) || *got.Sys().(*syscall.Stat_t) != *want.Sys().(*syscall.Stat_t) {
			t.Errorf("Lstatat(%s) = %v %d %v %v, os.Lstat says %v %d %v %v", name,
				got.Name(), got.Size(), got.Mode(), got.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
	}
	fd, err := unix.Openat(dfd, "f", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(fd)
	got, err := Fstat(fd, "f")
	must(t, err)
	want, err := os.Stat(filepath.Join(dir, "l"))
	must(t, err)
	if !os.SameFile(got, want) {
		t.Errorf("os.SameFile(Fstat(f), os.Stat(l)) = false, want true")
	}
	if _, err := Lstatat(dfd, "missing"); err != unix.ENOENT {
		t.Errorf("Lstatat(missing) = %v, want ENOENT", err)
	}
}

// TestOwnInfoMatchesPackageOS: New's own type, for a toolchain whose
// os.fileStat it does not know, describes an object as package os does.
func TestOwnInfoMatchesPackageOS(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	must(t, os.WriteFile(p, []byte("four"), 0o604))
	want, err := os.Lstat(p)
	must(t, err)
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	got := &info{name: "f", st: *want.Sys().(*syscall.Stat_t), mode: Mode(uint32(st.Mode)), mtime: time.Unix(st.Mtim.Unix())}
	var fi fs.FileInfo = got
	if fi.Name() != want.Name() || fi.Size() != want.Size() || fi.Mode() != want.Mode() ||
		!fi.ModTime().Equal(want.ModTime()) || fi.IsDir() || fi.Sys().(*syscall.Stat_t).Ino != st.Ino {
		t.Errorf("own info = %v %d %v %v, os.Lstat says %v %d %v %v",
			fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
