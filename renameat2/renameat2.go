// Package renameat2 renames directory entries relative to directory
// descriptors with the flags of Linux renameat2(2): NoReplace, Exchange and
// Whiteout, choosing per filesystem between the kernel primitive and a
// documented emulation.
//
// Where the kernel or filesystem lacks a flag:
//   - NoReplace of a non-directory is emulated with link(2) then unlink(2):
//     link refuses an existing name atomically, but for a moment the object
//     has both names. A directory cannot be linked, so NoReplace of a
//     directory without kernel support fails with errors.ErrUnsupported.
//   - Exchange is never emulated: two renames through a temporary name would
//     let a reader see one name missing. It fails with errors.ErrUnsupported.
//   - Whiteout is never emulated.
//
// Strict refuses every emulation (errors.ErrUnsupported), for callers that
// need the atomic guarantee or nothing (G6 in DESIGN.md).
//
// RenameIfSame renames only while the old name still refers to an object
// the caller holds open (G3), through the move-aside of package fallback.
//
// Like golang.org/x/sys/unix, the package takes raw descriptors.
package renameat2

import (
	"errors"
	"fmt"
	"syscall"
)

// Flags select the rename's behaviour.
type Flags uint

const (
	// NoReplace fails with EEXIST if newname exists.
	NoReplace Flags = 1 << iota
	// Exchange swaps oldname and newname atomically; both must exist.
	Exchange
	// Whiteout leaves a whiteout (an overlayfs "deleted" marker) at oldname.
	Whiteout
	// Strict refuses every emulation with errors.ErrUnsupported.
	Strict Flags = 1 << 8
)

func (f Flags) check() error {
	if f&^(NoReplace|Exchange|Whiteout|Strict) != 0 {
		return syscall.EINVAL
	}
	if f&Exchange != 0 && f&(NoReplace|Whiteout) != 0 {
		return syscall.EINVAL // as renameat2(2): exchange replaces by definition
	}
	return nil
}

// unsupported builds the error for a flag this filesystem cannot honour.
func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, errors.ErrUnsupported)
}
