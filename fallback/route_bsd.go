//go:build unix && !linux && !darwin

package fallback

import "golang.org/x/sys/unix"

// noReplaceForDirs: the BSDs have no no-replace rename; a directory cannot
// be put back without risking replacing an empty one.
func noReplaceForDirs(int) bool { return false }

func canRewriteDotDot(_ int, st *unix.Stat_t) bool { return modeAllowsWrite(st) }
