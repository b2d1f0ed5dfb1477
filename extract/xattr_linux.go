package extract

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// setXattrs sets extended attributes on the open file or directory f.
func setXattrs(f *os.File, xattrs map[string]string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var setErr error
	if err := rc.Control(func(fd uintptr) {
		for name, value := range xattrs {
			setErr = eintr.Retry(func() error { return unix.Fsetxattr(int(fd), name, []byte(value), 0) })
			if setErr != nil {
				setErr = &os.PathError{Op: "fsetxattr " + name, Path: f.Name(), Err: setErr}
				return
			}
		}
	}); err != nil {
		return err
	}
	return setErr
}
