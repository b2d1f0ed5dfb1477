package fstests

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// forgetsReplaced tells whether the filesystem of dir loses an object as
// soon as a rename replaces its name, for readers that already reached
// it: on a local filesystem a symlink renamed over still reads through a
// reference taken before (the inode lives on), but a FUSE server that
// finds its objects by path (go-fuse's loopback among them) answers
// ENOENT for it. A reader that looks a name up just before an atomic
// replacement, and reads it just after, then finds it missing: no way of
// replacing can keep G2 there, so the attacks that judge it say so instead
// of counting the filesystem's answer against the victim. It returns the
// reason, or "" when the filesystem keeps replaced objects.
func forgetsReplaced(dir string) (string, error) {
	old, repl := filepath.Join(dir, "probe-replaced"), filepath.Join(dir, "probe-replacement")
	if err := os.Symlink("old", old); err != nil {
		return "", err
	}
	defer os.Remove(old)
	if err := os.Symlink("new", repl); err != nil {
		return "", err
	}
	defer os.Remove(repl)
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(old, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return "", &os.PathError{Op: "open", Path: old, Err: err}
	}
	defer unix.Close(fd)
	if err := os.Rename(repl, old); err != nil {
		return "", err
	}
	buf := make([]byte, 16)
	n, err := eintr.Retry1(func() (int, error) { return unix.Readlinkat(fd, "", buf) })
	switch {
	case err == unix.ENOENT:
		return "this filesystem forgets an object once a rename replaces its name: readlink of a symlink reached just before it was renamed over fails with ENOENT (a FUSE server that finds objects by path does this), so a reader racing any atomic replacement finds the name missing here and G2 cannot hold", nil
	case err != nil:
		return "", &os.PathError{Op: "readlinkat", Path: old, Err: err}
	case string(buf[:n]) != "old":
		return fmt.Sprintf("this filesystem changes a symlink that a rename replaced: reached before the rename, it now reads %q, not \"old\"", buf[:n]), nil
	}
	return "", nil
}

// unlinkWatch sees every unlink of a name in one directory (inotify
// IN_DELETE): the moment the name was missing for every reader, whether
// or not a reader was running just then. rename(2) over a name does not
// unlink it; only a replacement that leaves a gap does.
type unlinkWatch struct {
	fd   int
	name string
	buf  []byte
}

func watchUnlinks(dir, name string) (*unlinkWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	return &unlinkWatch{fd: fd, name: name, buf: make([]byte, 64<<10)}, nil
}

// unlinks counts the unlinks of the name since the last call.
func (w *unlinkWatch) unlinks() int64 {
	var n int64
	for {
		got, err := eintr.Retry1(func() (int, error) { return unix.Read(w.fd, w.buf) })
		if err != nil { // EAGAIN: nothing more queued
			return n
		}
		inotifyEvents(w.buf[:got], func(_ uint32, name string) {
			if name == w.name {
				n++
			}
		})
	}
}

func (w *unlinkWatch) close() { unix.Close(w.fd) }

// inotifyEvents calls fn for each event in buf, as read from an inotify
// descriptor, that names an entry of the watched directory.
func inotifyEvents(buf []byte, fn func(mask uint32, name string)) {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		mask := binary.NativeEndian.Uint32(buf[off+4:])
		size := int(binary.NativeEndian.Uint32(buf[off+12:]))
		name := unix.ByteSliceToString(buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+size])
		off += unix.SizeofInotifyEvent + size
		if name != "" {
			fn(mask, name)
		}
	}
}
