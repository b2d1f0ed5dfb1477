//go:build linux

package dirfd_test

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// kernelLookup asks the kernel itself, with one raw openat2 from root,
// what a Dir with these options answers for name: the object reached and
// the error (ErrEscape for the EXDEV of a scoped lookup). The tests compare
// both resolvers with it on the same trees, so that the component walk is
// judged by the kernel directly and not only by a model of it. ok is false
// where the kernel has no openat2.
func kernelLookup(t testing.TB, root, name string, flags int, inRoot, noSymlinks bool) (ino [2]uint64, ok bool, err error) {
	t.Helper()
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH}
	if inRoot {
		how.Resolve = unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_IN_ROOT
	}
	if noSymlinks {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	var fd int
	for {
		fd, err = unix.Openat2(rfd, name, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	switch err {
	case nil:
	case unix.ENOSYS:
		return ino, false, nil
	case unix.EXDEV:
		return ino, true, dirfd.ErrEscape
	default:
		return ino, true, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, true, nil
}

// kernelFlags are the open flags that make openat2 do the lookup an
// operation of the tests makes: O_PATH for the ones that only reach an
// object, the operation's own flags for opens.
var kernelFlags = map[string]int{
	"OpenHandle":           unix.O_PATH | unix.O_NOFOLLOW,
	"Lstat":                unix.O_PATH | unix.O_NOFOLLOW,
	"Stat":                 unix.O_PATH,
	"Open":                 os.O_RDONLY,
	"OpenFile(O_NOFOLLOW)": os.O_RDONLY | syscall.O_NOFOLLOW,
}
