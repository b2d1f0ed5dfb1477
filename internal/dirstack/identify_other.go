//go:build unix && !linux

package dirstack

// Identify describes the directory fd refers to by device and inode; these
// systems have no mount ID, so a mount point is recognised by its device
// alone (a nullfs or bind-style mount of the same filesystem may not be).
func Identify(fd int) (ID, error) { return identifyByFstat(fd) }
