package fallback

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
)

// noReplaceForDirs: renameatx_np(RENAME_EXCL) works for directories.
func noReplaceForDirs(int) bool { return capability.Has(capability.RenameatxNp) }

func canRewriteDotDot(_ int, st *unix.Stat_t) bool { return modeAllowsWrite(st) }
