package dirfd

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/mountid"
)

// tmpfileProbed records, by mount (an ID that is never reused: DESIGN.md
// S6), whether capability.ProbeDir has confirmed on that filesystem that
// unnamed files can be created and linked (true) or not (false). Where
// mount IDs can be reused (before Linux 6.8) nothing is remembered, and
// each ReplaceFile asks the probe.
var tmpfileProbed sync.Map // mountid.ID -> bool

// unnamedRoute reports whether ReplaceFile may create its file unnamed in
// parent and give it its name with one link. Some FUSE and
// network filesystems open O_TMPFILE but cannot link the file; content
// written into such a file could not be published, and fill cannot be
// asked for it twice. So before the first unnamed file on a filesystem the
// probe tries the whole sequence in a scratch directory of its own, and
// only a confirmed filesystem takes this route; the others take the staged
// one. A probe that cannot run (no write permission in parent) counts as
// no confirmation: the staged route needs that permission too, and will
// say why it fails.
func unnamedRoute(parent int, id mountid.ID, err error) bool {
	if err != nil || !capability.HasAt(parent, capability.OTmpfile) ||
		!(capability.Has(capability.LinkEmptyPath) || capability.Has(capability.LinkProcFd)) {
		return false
	}
	if ok, done := tmpfileProbed.Load(id); done {
		return ok.(bool)
	}
	r, err := capability.ProbeDir(parent)
	ok := err == nil && r.Status(capability.OTmpfile).Detail == capability.DetailConfirmed
	if id.Unique() {
		tmpfileProbed.Store(id, ok)
	}
	return ok
}

// replaceUnnamed creates the file with O_TMPFILE in parent itself: an
// unnamed file is out of everyone else's reach (there is no name to open,
// replace or link it by), so it needs no private stage while fill writes
// it. It is then published with publishFd.
func replaceUnnamed(stages *stageCache, parent int, last string, perm uint32, fileName string, fill func(*os.File) error) error {
	fd, err := openat(parent, ".", unix.O_TMPFILE|unix.O_RDWR, perm)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), fileName)
	defer f.Close()
	if err := fill(f); err != nil {
		return err
	}
	return publishFd(stages, fd, parent, last)
}

// mknodat is mknodat(2).
func mknodat(dirfd int, name string, mode uint32, dev uint64) error {
	return unix.Mknodat(dirfd, name, mode, int(dev))
}
