// Package eintr retries system calls that a signal interrupted.
//
// Go installs its signal handlers with SA_RESTART, but calls on FUSE, NFS and
// some character devices still return EINTR; every call that can block goes
// through this package so that an interruption is never reported as a failure.
package eintr

import "syscall"

// Retry calls f until it returns something other than EINTR.
func Retry(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

// Retry1 is Retry for calls that also return a value (a descriptor, a count).
func Retry1[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != syscall.EINTR {
			return v, err
		}
	}
}
