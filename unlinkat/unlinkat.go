// Package unlinkat removes directory entries relative to a directory
// descriptor: single entries with the semantics of os.Remove; single
// entries only while they still refer to an object the caller holds open
// (RemoveIfSame, G3 in DESIGN.md); and whole trees without ever following a
// symlink, crossing a mount point or leaving the descriptor's tree, with a
// bounded number of open descriptors (RemoveAll).
//
// Like golang.org/x/sys/unix, it takes raw descriptors, so code that already
// holds them can use it without a dirfd.Dir.
package unlinkat
