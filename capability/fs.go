package capability

import (
	"errors"
	"sync"
	"syscall"
)

// What has been learned about per-filesystem features, keyed by device.
// Only "missing" is ever recorded: a filesystem is assumed to have what the
// kernel has until it proves otherwise with an unsupported errno.
var fsMissing sync.Map // fsKey -> string (detail)

type fsKey struct {
	dev uint64
	f   Feature
}

// HasOn reports whether f may be used on the filesystem with device number
// dev: the kernel has it, it is not disabled, and that filesystem has not
// refused it.
func HasOn(dev uint64, f Feature) bool {
	if !Has(f) {
		return false
	}
	if !f.PerFilesystem() {
		return true
	}
	_, missing := fsMissing.Load(fsKey{dev, f})
	return !missing
}

// MarkMissing records that the filesystem with device dev does not support
// f. Callers do so only after the primitive failed with an errno for which
// Unsupported is true and, where that errno is ambiguous (EINVAL), after
// confirming it on a scratch object of their own.
func MarkMissing(dev uint64, f Feature, detail string) {
	if f.PerFilesystem() {
		fsMissing.Store(fsKey{dev, f}, detail)
	}
}

// Unsupported reports whether err is one of the narrow errnos by which a
// kernel or filesystem says "I do not have this primitive": ENOSYS, EINVAL
// (an unknown flag), EOPNOTSUPP/ENOTSUP. EPERM is deliberately absent: on a
// real call it is far more often a permission problem than seccomp, and a
// permission problem must never switch the library to a fallback.
func Unsupported(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	return isUnsupportedErrno(errno)
}

// ForDevice returns the process report with what has been learned about the
// filesystem of device dev laid over it.
func ForDevice(dev uint64) Report {
	r := Probe()
	for i, s := range r.statuses {
		if !s.Available || !s.Feature.PerFilesystem() {
			continue
		}
		if d, missing := fsMissing.Load(fsKey{dev, s.Feature}); missing {
			r.statuses[i].Available = false
			r.statuses[i].Detail = d.(string)
		}
	}
	return r
}
