// Package mountid tells which mount an object is on, so that a walk can
// refuse to cross a mount point (NoXDev) and state learned about one mount
// is never applied to another.
//
// On Linux an ID is the kernel's mount ID: the 64-bit one that is never
// reused while the system runs (statx STATX_MNT_ID_UNIQUE, Linux 6.8), else
// the older one (statx STATX_MNT_ID, Linux 5.8, or the mnt_id line of
// /proc/self/fdinfo before that), which a later mount may get again once
// this one is unmounted. Either tells apart two mounts that exist at the
// same time, bind mounts of one filesystem included. Elsewhere an ID is
// the device number (st_dev): it tells filesystems apart, but not two
// mounts of the same filesystem (a nullfs mount on FreeBSD, say), and an
// unmounted filesystem's number can be reused. Unique says which kind an
// ID is.
package mountid

import "strconv"

// ID identifies a mount; IDs from one process compare with ==.
type ID struct {
	kind kind
	v    uint64
}

type kind uint8

const (
	kindNone   kind = iota
	kindUnique      // STATX_MNT_ID_UNIQUE: never reused while the system runs
	kindMount       // STATX_MNT_ID or fdinfo's mnt_id: reused after unmount
	kindDevice      // st_dev: tells filesystems apart, not mounts of one
)

// Unique reports whether the ID is never given to another mount while the
// system runs, so that it may key state kept past the mount's lifetime.
func (id ID) Unique() bool { return id.kind == kindUnique }

// String describes the ID for messages: its number and what kind it is.
func (id ID) String() string {
	name := [...]string{"none", "unique mount ID", "mount ID", "device"}[id.kind]
	return name + " " + strconv.FormatUint(id.v, 10)
}
