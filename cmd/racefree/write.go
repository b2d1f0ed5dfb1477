package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

func runWrite(e *env, args []string) error {
	flags := newFlags("write")
	modeArg := flags.String("mode", "", "octal mode of DEST (default: an existing file keeps its mode, a new one gets 0666 less the umask)")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) != 1 {
		return usagef("want exactly one DEST, got %d", len(operands))
	}
	var mode *fs.FileMode
	if *modeArg != "" {
		m, err := parseMode(*modeArg)
		if err != nil {
			return err
		}
		mode = &m
	}

	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()
	dest := parseEntry(operands[0])
	if !dest.isEntry() || dest.slash {
		return fmt.Errorf("%s: %s", quote(dest.arg), syscall.EISDIR)
	}
	d, err := s.parent(dest)
	if err != nil {
		return err
	}
	defer d.Close()
	return writeError(dest.arg, writeAtomic(d, dest.name, e.stdin, mode))
}

// writeAtomic streams r into a private file and publishes it under name in
// one rename, after syncing it: a reader sees the old file or the whole new
// one, and after a crash one of the two survives. Nothing is held in
// memory, so input of any size is fine; a failure anywhere before the
// rename (including a full filesystem) leaves the old file untouched.
func writeAtomic(d *dirfd.Dir, name string, r io.Reader, mode *fs.FileMode) error {
	perm := fs.FileMode(0o666)
	if mode != nil {
		// Permission bits only: set-ID and sticky bits are set by the
		// Chmod below, as CreateAtomic asks.
		perm = mode.Perm()
	}
	f, err := d.CreateAtomic(name, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if mode != nil {
		// Exactly the mode asked for, whatever the umask and whatever the
		// mode of the file replaced, set before Commit makes it visible.
		if err := f.Chmod(*mode); err != nil {
			f.Close()
			return err
		}
	}
	return f.Commit()
}

// parseMode reads an octal mode as chmod(1) does, with the set-user-ID,
// set-group-ID and sticky bits.
func parseMode(s string) (fs.FileMode, error) {
	m, ok := parseOctal(s)
	if !ok {
		return 0, usagef("--mode %q: want an octal mode from 0 to 7777", s)
	}
	return fileMode(m), nil
}

func writeError(dest string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dirfd.ErrEscape):
		return fmt.Errorf("%s: is a symlink leading out of its directory; write replaces only files inside DEST's directory (name the target itself)", quote(dest))
	}
	return operandError(dest, err)
}
