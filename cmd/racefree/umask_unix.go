//go:build unix

package main

import "syscall"

// currentUmask reads the process's umask, which chmod(1) applies to a
// mode without u, g, o or a. Reading it means setting it; chmod creates
// nothing meanwhile.
func currentUmask() uint32 {
	u := syscall.Umask(0o022)
	syscall.Umask(u)
	return uint32(u)
}
