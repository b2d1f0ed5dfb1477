package renameat2

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// Rename renames oldname in olddirfd to newname in newdirfd according to
// flags.
//
// The kernel primitive is tried first whenever the kernel has it. If the
// filesystem refuses the flag (ENOSYS, EOPNOTSUPP, or an EINVAL confirmed
// by a probe in a private scratch directory, since EINVAL also means "a
// directory into its own subtree"), the filesystem is recorded as missing
// the feature and the emulation, if any, runs from then on. An error that
// does not say "unsupported" is returned as it is: one failed call must
// never switch the library to a weaker sequence.
func Rename(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	if err := flags.check(); err != nil {
		return err
	}
	kflags := flags.kernel()
	if kflags == 0 {
		return eintr.Retry(func() error { return unix.Renameat(olddirfd, oldname, newdirfd, newname) })
	}
	feature := flags.feature()
	if capability.Has(feature) {
		err := eintr.Retry(func() error { return unix.Renameat2(olddirfd, oldname, newdirfd, newname, kflags) })
		if !capability.Unsupported(err) || !filesystemLacks(newdirfd, feature, err) {
			return err
		}
	}
	return emulate(olddirfd, oldname, newdirfd, newname, flags)
}

func (f Flags) kernel() uint {
	var k uint
	if f&NoReplace != 0 {
		k |= unix.RENAME_NOREPLACE
	}
	if f&Exchange != 0 {
		k |= unix.RENAME_EXCHANGE
	}
	if f&Whiteout != 0 {
		k |= unix.RENAME_WHITEOUT
	}
	return k
}

// feature names the capability a flag set needs; Whiteout dominates since
// it may be combined with NoReplace.
func (f Flags) feature() capability.Feature {
	switch {
	case f&Whiteout != 0:
		return capability.RenameWhiteout
	case f&Exchange != 0:
		return capability.RenameExchange
	}
	return capability.RenameNoReplace
}

// filesystemLacks decides whether err, an "unsupported" errno from
// renameat2 on the filesystem of dirfd, means that filesystem lacks the
// feature, recording it if so.
func filesystemLacks(dirfd int, f capability.Feature, err error) bool {
	if !capability.HasAt(dirfd, f) {
		return true // learned before
	}
	if err != unix.EINVAL {
		capability.MarkMissing(dirfd, f, "filesystem refused renameat2: "+err.Error())
		return true
	}
	// EINVAL is ambiguous: ask the filesystem with objects of our own.
	report, perr := capability.ProbeDir(dirfd)
	return perr == nil && !report.Has(f)
}
