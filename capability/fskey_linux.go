package capability

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/mountid"
)

// keyOf identifies the mount of the descriptor fd: three system calls
// (statx for the mount ID, fstatfs for the filesystem type, fstat for the
// device), paid only where something has been learned missing.
func keyOf(fd int) (fsKey, error) {
	id, err := mountid.Of(fd)
	if err != nil {
		return fsKey{}, err
	}
	var sfs unix.Statfs_t
	if err := eintr.Retry(func() error { return unix.Fstatfs(fd, &sfs) }); err != nil {
		return fsKey{}, err
	}
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return fsKey{}, err
	}
	return fsKey{mount: id, fsType: sfs.Type, dev: uint64(st.Dev)}, nil
}
