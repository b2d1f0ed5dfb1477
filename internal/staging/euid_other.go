//go:build unix && !linux

package staging

// euidFixed is false: without a portable way to read the saved uid and the
// privileges of this process, only root's uid is cached (see knownEuid).
func euidFixed() bool { return false }
