//go:build unix && !linux

package fstests

import "golang.org/x/sys/unix"

// exchange is missing here; the swapper rotates with plain renames.
func exchange(a, b string) error { return unix.ENOSYS }
