//go:build unix && !linux

package dirfd

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// flushTree makes the tree named tree in the stage durable before it is
// published: this system has no syncfs(2), so every regular file and
// directory in it is flushed (fullFsync: F_FULLFSYNC on macOS).
func flushTree(stage int, tree string) error {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(stage, &st) }); err != nil {
		return err
	}
	return fsyncTree(stage, tree, uint64(st.Dev))
}

func fsyncTree(dirfd int, name string, dev uint64) error {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
			return err
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFDIR && uint64(st.Dev) == dev:
			err = fsyncTree(fd, n, dev)
		case st.Mode&unix.S_IFMT == unix.S_IFREG:
			err = fsyncFile(fd, n)
		}
		if err != nil {
			return err
		}
	}
	return eintr.Retry(func() error { return fullFsync(fd) })
}

func fsyncFile(dirfd int, name string) error {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = eintr.Retry(func() error { return fullFsync(fd) })
	if cerr := closeFd(fd); err == nil {
		err = cerr
	}
	return err
}

// flushDir makes a rename or link done in dir durable.
func flushDir(dir, _ int) error {
	return eintr.Retry(func() error { return fullFsync(dir) })
}
