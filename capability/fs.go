package capability

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/racefree/racefree/internal/mountid"
)

// What has been learned about per-filesystem features, keyed by mount
// (DESIGN.md S6). Only "missing" is ever recorded: a filesystem is assumed
// to have what the kernel has until it proves otherwise with an
// unsupported errno.
//
// Why by mount and not by device number: anonymous device numbers (tmpfs,
// FUSE, overlayfs, NFS) are handed out again after an unmount, and a FUSE
// filesystem can be any user's. Keyed by device, a "missing" learned on
// one such filesystem would downgrade whichever filesystem got the number
// next: another user could mount a FUSE filesystem that refuses
// RENAME_EXCHANGE, make a victim learn it, unmount, and leave the victim's
// next tmpfs at that number without atomic installs. The key is the mount
// ID that is never reused while the system runs (statx
// STATX_MNT_ID_UNIQUE, Linux 6.8) where there is one; else the mount ID,
// which is reused, together with the filesystem type and the device. A
// mark under a key that can be reused is trusted only for features whose
// absence costs speed, never a guarantee (o_tmpfile: the named route is as
// safe): for rename_exchange and rename_noreplace such a mark is ignored,
// the primitive is tried again, and a filesystem that still refuses it is
// learned anew by the trial itself.
var fsMissing sync.Map // fsKey -> string (detail)

// marked counts the marks per feature, so that the common case (nothing
// learned for a feature) needs no system call to identify a filesystem.
var marked sync.Map // Feature -> *atomic.Int64

type fsKey struct {
	mount  mountid.ID
	fsType int64
	dev    uint64
	f      Feature
}

// weakens reports whether using a fallback for f gives a weaker guarantee
// than the primitive (see fsMissing).
func (f Feature) weakens() bool { return f == RenameExchange || f == RenameNoReplace }

// HasAt reports whether f may be used on the filesystem of the descriptor
// fd (a directory or any object on it): the kernel has it, it is not
// disabled, and that mount has not refused it. It costs no system call
// unless something has been learned missing for f on some filesystem.
func HasAt(fd int, f Feature) bool {
	if !Has(f) {
		return false
	}
	if !f.PerFilesystem() || !anyMarked(f) {
		return true
	}
	k, err := keyOf(fd)
	if err != nil {
		return true // the trial itself will say
	}
	return !believeMissing(k, f)
}

// believeMissing reports whether a mark for f under k is to be believed.
func believeMissing(k fsKey, f Feature) bool {
	k.f = f
	_, ok := fsMissing.Load(k)
	return ok && (k.mount.Unique() || !f.weakens())
}

func anyMarked(f Feature) bool {
	c, ok := marked.Load(f)
	return ok && c.(*atomic.Int64).Load() > 0
}

// MarkMissing records that the filesystem of the descriptor fd does not
// support f. Callers do so only after the primitive failed with an errno
// for which Unsupported is true and, where that errno is ambiguous
// (EINVAL), after confirming it on a scratch object of their own. A
// descriptor whose mount cannot be told records nothing.
func MarkMissing(fd int, f Feature, detail string) {
	if !f.PerFilesystem() {
		return
	}
	k, err := keyOf(fd)
	if err != nil {
		return
	}
	k.f = f
	if _, loaded := fsMissing.LoadOrStore(k, detail); !loaded {
		c, _ := marked.LoadOrStore(f, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
}

// forget drops a mark for f on the filesystem of fd: the feature was
// just confirmed there, so the mark was learned on another mount that had
// the same key (a mount ID that can be reused).
func forget(fd int, f Feature) {
	if !anyMarked(f) {
		return
	}
	k, err := keyOf(fd)
	if err != nil {
		return
	}
	k.f = f
	if _, loaded := fsMissing.LoadAndDelete(k); loaded {
		c, _ := marked.Load(f)
		c.(*atomic.Int64).Add(-1)
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

// ForDir returns the process report with what has been learned about the
// filesystem of the descriptor fd laid over it.
func ForDir(fd int) Report {
	r := Probe()
	var k fsKey
	known := false
	for i, s := range r.statuses {
		if !s.Available || !s.Feature.PerFilesystem() || !anyMarked(s.Feature) {
			continue
		}
		if !known {
			var err error
			if k, err = keyOf(fd); err != nil {
				return r
			}
			known = true
		}
		if !believeMissing(k, s.Feature) {
			continue
		}
		k.f = s.Feature
		if d, ok := fsMissing.Load(k); ok {
			r.statuses[i].Available = false
			r.statuses[i].Detail = d.(string)
		}
	}
	return r
}
