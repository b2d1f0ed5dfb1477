package dirfd

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
)

// createStaged creates the file in the stage: unnamed (O_TMPFILE) where
// the filesystem has it and the process can later give a descriptor a
// name, else named. A filesystem that refuses O_TMPFILE in our own private
// directory (EOPNOTSUPP; EINVAL on some) cannot mean anything else, so it
// is learned as missing there and the named route is used from then on.
// One that opens the file but cannot link it is learned at Commit (see
// linkIntoStage), unless ProbeDir learned it first.
func createStaged(stage *staging.Dir, perm uint32) (int, string, error) {
	if capability.HasAt(stage.Fd, capability.OTmpfile) &&
		(capability.Has(capability.LinkEmptyPath) || capability.Has(capability.LinkProcFd)) {
		fd, err := openat(stage.Fd, ".", unix.O_TMPFILE|unix.O_RDWR, perm)
		if err == nil {
			return fd, "", nil
		}
		if !capability.Unsupported(err) {
			return -1, "", err
		}
		capability.MarkMissing(stage.Fd, capability.OTmpfile, fmt.Sprintf("open(O_TMPFILE): %v (on this filesystem)", err))
	}
	return createNamed(stage, perm)
}

// haveSyncfs: Linux can sync one filesystem, which stands in for the fsync
// of a directory that cannot be opened for reading.
const haveSyncfs = true

func (f *AtomicFile) syncFilesystem() error {
	rc, err := f.File.SyscallConn()
	if err != nil {
		return err
	}
	var syncErr error
	if err := rc.Control(func(fd uintptr) {
		syncErr = eintr.Retry(func() error { return unix.Syncfs(int(fd)) })
	}); err != nil {
		return err
	}
	return syncErr
}
