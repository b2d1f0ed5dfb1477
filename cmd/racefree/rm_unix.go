//go:build unix

package main

import (
	"io/fs"
	"syscall"
)

// sameDevice reports whether two objects described by racefree (whose
// FileInfo.Sys is a *syscall.Stat_t, as package os's is) are on the same
// filesystem.
func sameDevice(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Dev == sb.Dev
}
