package fallback

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// noReplaceForDirs: renameat2(RENAME_NOREPLACE) works for directories on
// every filesystem that has it at all.
func noReplaceForDirs(fd int) bool { return capability.HasAt(fd, capability.RenameNoReplace) }

// canRewriteDotDot asks the kernel (faccessat2 with AT_EMPTY_PATH, Linux
// 5.8) so that capabilities and ACLs count; older kernels get the mode-bit
// answer.
func canRewriteDotDot(fd int, st *unix.Stat_t) bool {
	err := eintr.Retry(func() error { return unix.Faccessat2(fd, "", unix.W_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS) })
	switch err {
	case nil:
		return true
	case unix.EACCES, unix.EROFS, unix.EPERM:
		return false
	}
	return modeAllowsWrite(st)
}
