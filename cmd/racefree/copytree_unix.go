//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// fileID identifies a file with several links, to link its other names to
// the first copy as cp -a does.
type fileID struct{ dev, ino uint64 }

func idOf(st *syscall.Stat_t) fileID { return fileID{uint64(st.Dev), uint64(st.Ino)} }

// treeCopier copies a source tree into the stage as cp -a would: regular
// files, directories and symlinks (never followed), hard links within the
// tree, modes with the set-ID and sticky bits, access and modification
// times, and owners when running as root. The source is read only through
// a Dir opened on it, so nothing in it (a symlink, a swapped directory)
// can make the copy read outside it; the stage is written only through
// stage.
//
// Special files (FIFOs, sockets, devices) are refused: a tree to install
// has no use for them, and copying a device node by mistake is worse than
// an error naming it.
type treeCopier struct {
	stage    *dirfd.Dir
	progress *progress
	links    map[fileID]string // first copy of each multiply-linked file, by its name in the stage
	root     bool              // copy owners
	tree     fileID            // the stage's top directory
}

func copyTree(src, stage *dirfd.Dir, p *progress) error {
	c := &treeCopier{stage: stage, progress: p, links: map[fileID]string{}, root: os.Geteuid() == 0}
	top, err := stage.Lstat(".")
	if err != nil {
		return err
	}
	c.tree = idOf(top.Sys().(*syscall.Stat_t))
	if err := c.copyDir(src, stage, ""); err != nil {
		return err
	}
	// The top directory's mode is Install's (dirfd.Mode); its owner and
	// times are set here, after its contents.
	fi, err := src.Lstat(".")
	if err != nil {
		return fmt.Errorf(".: %s", innermost(err))
	}
	if c.root {
		st := fi.Sys().(*syscall.Stat_t)
		if err := stage.Lchown(".", int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf(".: %s", innermost(err))
		}
	}
	if err := stage.Chtimes(".", accessTime(fi.Sys().(*syscall.Stat_t)), fi.ModTime()); err != nil {
		return fmt.Errorf(".: %s", innermost(err))
	}
	return nil
}

// copyDir copies the entries of s into d, which is the directory rel of
// the stage.
func (c *treeCopier) copyDir(s, d *dirfd.Dir, rel string) error {
	entries, err := s.ReadDir(".")
	if err != nil {
		return fmt.Errorf("%s: %s", nameOf(rel), innermost(err))
	}
	for _, en := range entries {
		name := en.Name()
		relName := path.Join(rel, name)
		err := c.copyEntry(s, d, name, relName)
		if ce := (*copyError)(nil); err != nil && !errors.As(err, &ce) {
			err = &copyError{relName, err}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// copyError is a failure to copy one entry, named by its path in the tree
// (once, by the innermost copyDir).
type copyError struct {
	rel string
	err error
}

func (e *copyError) Error() string { return e.rel + ": " + e.err.Error() }
func (e *copyError) Unwrap() error { return e.err }

func nameOf(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func (c *treeCopier) copyEntry(s, d *dirfd.Dir, name, relName string) error {
	fi, err := s.Lstat(name)
	if err != nil {
		return errText(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch fi.Mode().Type() {
	case 0:
		return c.copyFile(s, d, name, relName, st)
	case fs.ModeDir:
		if idOf(st) == c.tree {
			// DEST's directory is inside SRC_DIR, so the stage is too:
			// copying it would copy the copy, without end.
			return errors.New("is the tree being installed: SRC_DIR contains DEST's directory, and install cannot copy a directory into itself")
		}
		if err := c.copySubdir(s, d, name, relName, st); err != nil {
			return err
		}
		return c.setMetadata(d, name, fi, st)
	case fs.ModeSymlink:
		target, err := s.Readlink(name)
		if err != nil {
			return errText(err)
		}
		if err := d.Symlink(target, name); err != nil {
			return errText(err)
		}
		if c.root {
			if err := d.Lchown(name, int(st.Uid), int(st.Gid)); err != nil {
				return errText(err)
			}
		}
		// Dir.Chtimes follows a final symlink; the link's own times are
		// set relative to d's descriptor, on a name just made in the
		// private stage.
		ts := []unix.Timespec{unix.NsecToTimespec(accessTime(st).UnixNano()), unix.NsecToTimespec(fi.ModTime().UnixNano())}
		if err := unix.UtimesNanoAt(int(d.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting the symlink's times: %v", err)
		}
		c.progress.add(0)
		return nil
	}
	return fmt.Errorf("is a %v; install copies only regular files, directories and symlinks", fileTypeText(fi.Mode()))
}

func fileTypeText(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return m.Type().String()
}

func errText(err error) error { return fmt.Errorf("%s", innermost(err)) }

// copySubdir makes name in d and copies s's directory name into it. The
// new directory is owner-only until its contents are in, so a read-only
// source directory can still be filled; setMetadata gives it its mode.
func (c *treeCopier) copySubdir(s, d *dirfd.Dir, name, relName string, st *syscall.Stat_t) error {
	if err := d.Mkdir(name, 0o700); err != nil {
		return errText(err)
	}
	sub, err := s.OpenDir(name)
	if err != nil {
		return errText(err)
	}
	defer sub.Close()
	if err := sameObject(sub, st); err != nil {
		return err
	}
	dsub, err := d.OpenDir(name)
	if err != nil {
		return errText(err)
	}
	defer dsub.Close()
	return c.copyDir(sub, dsub, relName)
}

// sameObject checks that an entry opened by name is the one examined
// before: someone may have swapped it meanwhile (in the source tree; the
// Dir keeps whatever it is inside the source).
func sameObject(d *dirfd.Dir, st *syscall.Stat_t) error {
	fi, err := d.Lstat(".")
	if err != nil {
		return errText(err)
	}
	if got := fi.Sys().(*syscall.Stat_t); got.Dev != st.Dev || got.Ino != st.Ino {
		return fmt.Errorf("was replaced by another object while install copied it")
	}
	return nil
}

// copyFile copies a regular file, or links it to the copy of an earlier
// name of the same file. io.Copy between two *os.File uses
// copy_file_range(2) on Linux, so the data is copied inside the kernel and
// shared (reflinked) where the filesystem can (btrfs, XFS, NFS 4.2).
func (c *treeCopier) copyFile(s, d *dirfd.Dir, name, relName string, st *syscall.Stat_t) error {
	id := idOf(st)
	if st.Nlink > 1 {
		if first, ok := c.links[id]; ok {
			if err := c.stage.Link(first, relName); err != nil {
				return errText(err)
			}
			c.progress.add(0)
			return nil
		}
	}
	// O_NONBLOCK: a FIFO swapped in after the Lstat must not block the
	// open; the identity check below then refuses it.
	in, err := s.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return errText(err)
	}
	defer in.Close()
	ifi, err := in.Stat()
	if err != nil {
		return errText(err)
	}
	ist := ifi.Sys().(*syscall.Stat_t)
	if !ifi.Mode().IsRegular() || ist.Dev != st.Dev || ist.Ino != st.Ino {
		return fmt.Errorf("was replaced by another object while install copied it")
	}
	out, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errText(err)
	}
	n, err := io.Copy(out, in)
	if err == nil && c.root {
		// Before the mode: chown clears the set-ID bits.
		err = out.Chown(int(ist.Uid), int(ist.Gid))
	}
	if err == nil {
		err = out.Chmod(ifi.Mode())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errText(err)
	}
	if err := d.Chtimes(name, accessTime(st), ifi.ModTime()); err != nil {
		return errText(err)
	}
	if st.Nlink > 1 {
		c.links[id] = relName
	}
	c.progress.add(n)
	return nil
}

// setMetadata gives a copied directory its owner, mode and times, after
// its contents (which change its modification time).
func (c *treeCopier) setMetadata(d *dirfd.Dir, name string, fi fs.FileInfo, st *syscall.Stat_t) error {
	if c.root {
		if err := d.Lchown(name, int(st.Uid), int(st.Gid)); err != nil {
			return errText(err)
		}
	}
	if err := d.Chmod(name, fi.Mode()); err != nil {
		return errText(err)
	}
	if err := d.Chtimes(name, accessTime(st), fi.ModTime()); err != nil {
		return errText(err)
	}
	return nil
}
