// Package linkat creates and atomically replaces links relative to directory
// descriptors.
//
// A replacement is built inside a private staging directory in the same
// parent (see internal/staging) and renamed over the old name in one
// rename(2): every reader sees the old link or the new one, never a missing
// name (G2), and no other user can touch the staged link before it is
// published. Like golang.org/x/sys/unix, the package takes raw descriptors.
package linkat
