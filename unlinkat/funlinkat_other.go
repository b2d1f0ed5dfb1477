//go:build unix && !freebsd

package unlinkat

import "golang.org/x/sys/unix"

// funlinkat exists on FreeBSD only, where capability.Funlinkat can be
// available; elsewhere it never is, and this is never called.
func funlinkat(int, string, int, *unix.Stat_t) error { return unix.ENOSYS }
