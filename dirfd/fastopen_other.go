//go:build unix && !linux && !freebsd && !darwin

package dirfd

// fastOpen has no single-call resolver to offer on this system.
func (d *Dir) fastOpen(string, int, uint32) (int, bool, error) { return -1, false, nil }
