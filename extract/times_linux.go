package extract

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// setFileTimes sets the times of the open file f (utimensat with
// AT_EMPTY_PATH), before it has a name, so that it appears with them; it
// reports false where that cannot be done, and the times are then set on
// the name once the file has it.
func setFileTimes(f *os.File, atime, mtime time.Time) (bool, error) {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	rc, err := f.SyscallConn()
	if err != nil {
		return true, err
	}
	var setErr error
	if err := rc.Control(func(fd uintptr) {
		setErr = eintr.Retry(func() error { return unix.UtimesNanoAt(int(fd), "", ts, unix.AT_EMPTY_PATH) })
	}); err != nil {
		return true, err
	}
	return true, setErr
}

// timespec is t for utimensat; a zero t leaves that time as it is.
func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}
