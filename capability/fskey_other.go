//go:build unix && !linux

package capability

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/mountid"
)

// keyOf identifies the mount of the descriptor fd. The per-filesystem
// features are Linux's, so nothing is learned here, but the key is the
// same kind of thing.
func keyOf(fd int) (fsKey, error) {
	id, err := mountid.Of(fd)
	if err != nil {
		return fsKey{}, err
	}
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return fsKey{}, err
	}
	return fsKey{mount: id, dev: uint64(st.Dev)}, nil
}
