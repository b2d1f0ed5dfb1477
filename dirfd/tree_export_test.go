//go:build unix

package dirfd

// ForceHardlinkRule makes the tree operations behave as where
// fs.protected_hardlinks is off (on true) or on, until restore is called:
// the machine's own setting is global and not the tests' to change.
func ForceHardlinkRule(on bool) (restore func()) {
	saved := hardlinksProtected
	hardlinksProtected = func() bool { return !on }
	return func() { hardlinksProtected = saved }
}

// HardlinksProtected is what the tree operations read from the kernel.
func HardlinksProtected() bool { return hardlinksProtected() }
