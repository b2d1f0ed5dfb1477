// Package unlinkat removes directory entries relative to a directory
// descriptor: single entries with the semantics of os.Remove, and whole trees
// without ever following a symlink or leaving the descriptor's tree.
//
// Like golang.org/x/sys/unix, it takes raw descriptors, so code that already
// holds them can use it without a dirfd.Dir.
package unlinkat
