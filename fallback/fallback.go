// Package fallback holds the portable, verified sequences that racefree
// uses where the platform lacks the primitive that would do a job in one
// atomic step: the move-aside that stands in for an unlink or rename "only
// if the name still refers to this object" (FreeBSD's funlinkat(2) is the
// only kernel that has one, and only for unlink), the fstatat-compare-act
// sequence that stands in for it where even the move-aside cannot run, and
// link+unlink for a no-replace rename of a non-directory.
//
// Every sequence here says what it guarantees and where its window is; the
// packages above choose between them and the kernel primitive (see
// unlinkat.RemoveIfSame and renameat2.RenameIfSame) and report which ran as
// a Method.
//
// Like golang.org/x/sys/unix, the package takes raw descriptors.
package fallback

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrChanged is matched (errors.Is) by the error of an operation on "the
// object I opened" that found the name referring to a different object:
// nothing was done to the object that is there now (G3 in DESIGN.md).
// dirfd.ErrChanged is the same value.
var ErrChanged = errors.New("object changed since it was opened")

// Method says which sequence carried out a verified removal or rename.
type Method uint8

const (
	// None: the operation failed before a sequence was chosen (bad
	// arguments, a handle that cannot be stat'ed).
	None Method = iota
	// Funlinkat is FreeBSD's funlinkat(2): the kernel unlinks the name only
	// if it refers to the descriptor's object, atomically.
	Funlinkat
	// MoveAside renames the name into a private staging directory, compares
	// the object there, where no one else can reach it, and only then acts;
	// a stranger's object is put back (see Aside). No window.
	MoveAside
	// CompareUnlink is fstatat, compare, unlinkat by name. Between the
	// compare and the unlink the name can be swapped: a stranger's object
	// can be removed. Strict refuses it.
	CompareUnlink
	// CompareRename is fstatat, compare, renameat by name, with the same
	// window as CompareUnlink. Strict refuses it.
	CompareRename
)

// String returns the name racefree uses for m in reports and errors.
func (m Method) String() string {
	switch m {
	case None:
		return "none"
	case Funlinkat:
		return "funlinkat"
	case MoveAside:
		return "move-aside"
	case CompareUnlink:
		return "fstatat-compare-unlinkat"
	case CompareRename:
		return "fstatat-compare-renameat"
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// ConflictError reports an object that a verified operation had taken
// aside and could not put back under its own name, because someone had
// taken the name again meanwhile (or putting it back failed). The object is
// not lost: it is at Name, relative to the directory it was taken from.
// Err says why it had been taken aside and not acted on: ErrChanged for a
// stranger's object, or the error of the operation that failed.
type ConflictError struct {
	Name string
	Err  error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v (the object found under the name is now at %s: the name was taken again meanwhile)", e.Err, e.Name)
}

// Unwrap returns Err, so that errors.Is(err, ErrChanged) holds for a
// stranger's object kept aside.
func (e *ConflictError) Unwrap() error { return e.Err }

// CheckName rejects what cannot be one entry of a directory: the verified
// sequences act on exactly one entry, and a name with a "/" would let the
// kernel resolve, and follow symlinks in, the components before it.
func CheckName(name string) error {
	switch {
	case name == "", name == ".", name == "..",
		strings.IndexByte(name, '/') >= 0, strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%q is not a single directory entry: %w", name, syscall.EINVAL)
	}
	return nil
}
