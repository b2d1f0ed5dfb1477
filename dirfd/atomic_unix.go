//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/linkat"
	"github.com/racefree/racefree/unlinkat"
)

// WriteFile writes data to name atomically and durably: every reader sees
// the complete old content or the complete new content, never a missing,
// empty or partial file (G2), and once WriteFile returns nil the new
// content survives a crash. It is CreateAtomic, Write and Commit in one
// call; see AtomicFile for the sequence, its costs and what differs from an
// in-place write.
//
// The visible semantics are those of os.Root.WriteFile: a final symlink is
// followed and its target (inside the tree; a target outside fails with
// ErrEscape) is what gets replaced, a missing name is created with perm
// less the umask, an existing file keeps its mode, "name/" and a directory
// at name fail with EISDIR. A FIFO, socket or device at name is not
// replaced (EINVAL). On any error, including ENOSPC and EDQUOT, the old file
// is left as it was and nothing staged is left behind. A process killed
// during WriteFile leaves the old or the new file whole and at most a
// half-written file in the Dir's staging directory, which RemoveStale
// removes.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode) error {
	f, err := d.CreateAtomic(name, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Commit()
}

// AtomicFile is a file being written in private, to replace a name in one
// step when Commit is called. Write to it as to any *os.File (it embeds
// one); do not Close the embedded *os.File itself, call AtomicFile.Close.
// Commit and Close must not be called concurrently with each other or with
// writes.
//
// Where the content lives until Commit: in a private staging directory
// (mode 0700, named ".racefree-" and random hex) next to the final name,
// made and verified the first time the Dir writes into that directory,
// kept until the Dir is closed, and used only through its descriptor, so
// no other user can replace, read or link the staged file (G2; DESIGN.md
// S1 to S3). On Linux, where the filesystem has O_TMPFILE and this process
// can give a descriptor a name (capability o_tmpfile, and link_empty_path
// or link_proc_fd), the file is unnamed until Commit links it into the
// stage; elsewhere it is created there under a fresh name with O_EXCL.
// Both routes give the same guarantees; the unnamed file leaves no data
// behind when the process dies before Commit. A filesystem that opens unnamed files but cannot link them
// (some FUSE and network filesystems answer EXDEV or EPERM) is learned by
// capability.ProbeDir, or at the first Commit there, which then copies the
// content into a named file in the stage and goes on; later files there
// are named from the start.
//
// What differs from writing the old file in place: the replacement is a
// new inode. It is created by the caller, with the old file's mode; when
// the caller may (root, or the owner changing to a group it belongs to) it
// also gets the old file's owner and group, otherwise it keeps the
// caller's. Other hard links to the old file keep the old content, and
// extended attributes and ACLs of the old file are not copied.
type AtomicFile struct {
	*os.File
	name   string // as given to CreateAtomic, for errors
	last   string
	stages *stageCache // the Dir's, which keeps stage
	// stage is the private stage in the directory that will hold last,
	// and stage.Parent that directory, open for reading: the rename
	// target, fsync'ed after the rename.
	stage  *staging.Dir
	staged string // the file's name in the stage; "" while an O_TMPFILE is unnamed
	// syncfs, where the directory could not be opened for reading (a
	// write-only directory), is a descriptor of it to rename into, and its
	// entry is made durable by syncing the whole filesystem; else -1.
	syncfs int
	// old is the lstat of the file being replaced, whose owner and mode
	// the new one gets; nil for a new name.
	old *unix.Stat_t
	// mode, when modeSet, is what Chmod asked for; it wins over old's.
	mode    fs.FileMode
	modeSet bool
	state   atomicState
	cleanup runtime.Cleanup
}

type atomicState uint8

const (
	atomicOpen atomicState = iota
	atomicCommitted
	atomicDiscarded
)

// errCommitted is returned by a second Commit.
var errCommitted = fmt.Errorf("already committed: %w", fs.ErrClosed)

// errNotRegular refuses to replace a FIFO, socket or device: writing to
// one has effects a new regular file under its name would silently drop.
var errNotRegular = fmt.Errorf("not a regular file, not replaced: %w", unix.EINVAL)

// CreateAtomic starts an atomic replacement of name: it resolves name as
// WriteFile does (following a final symlink inside the tree), and returns
// a new, empty file in the private staging directory next to it. Nothing is
// visible under name until Commit; Close without Commit discards
// everything. perm (less the umask) is the new file's mode when name does
// not exist; an existing file's mode is kept.
//
// Durability needs the directory fsync'ed after the rename, which needs a
// descriptor of it open for reading. In a directory the caller may write
// and search but not read (a mode 0311 drop box), Linux syncs the whole
// filesystem instead (syncfs); other systems fail with EACCES before
// anything is created.
//
// Cost of WriteFile replacing a file in the Dir's own directory, on Linux
// with O_TMPFILE, once the stage exists: 11 system calls (fstatat of the
// old file, openat O_TMPFILE and the fcntl of os.NewFile, write, linkat
// into the stage, fstat, fsync, renameat, fsync of the directory, close),
// two of them fsync, the file's
// and then its directory's: the second is what makes the rename itself
// durable, and is the difference from an atomic write that skips it. The
// first write into a directory also makes the stage (mkdirat, openat,
// fstat, statx, a listing, an openat of the directory).
func (d *Dir) CreateAtomic(name string, perm fs.FileMode) (*AtomicFile, error) {
	var f *AtomicFile
	err := d.do(name, func() error {
		return d.replaceTarget(name, func(parent int, last string, old *unix.Stat_t) (err error) {
			f, err = newAtomicFile(d.stages, parent, last, old, fileinfo.Perm(perm), name, d.join(name))
			return err
		})
	})
	if err != nil {
		return nil, pathErr("openat", name, err)
	}
	return f, nil
}

// replaceTarget finds the directory entry that replacing name replaces and
// calls f with its directory, its name and, if it exists, its lstat.
// A final symlink is followed by resolving its target afresh through the
// Dir's resolver (relative to the symlink's directory, or to the top when
// absolute), so the target gets the same containment as any name; a target
// that does not exist yet is where the new file goes, as open(2) with
// O_CREAT does.
func (d *Dir) replaceTarget(name string, f func(parent int, last string, old *unix.Stat_t) error) error {
	for range maxSymlinks + 1 {
		var target string
		var isLink bool
		err := d.inParent(name, func(parent int, last string) error {
			if last == "." || strings.HasSuffix(last, "/") {
				return unix.EISDIR // as open(2) with O_CREAT says for a directory or "name/"
			}
			var st unix.Stat_t
			err := eintr.Retry(func() error { return unix.Fstatat(parent, last, &st, unix.AT_SYMLINK_NOFOLLOW) })
			if err == unix.ENOENT {
				return f(parent, last, nil)
			}
			if err != nil {
				return err
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				return f(parent, last, &st)
			case unix.S_IFDIR:
				return unix.EISDIR
			case unix.S_IFLNK:
				if d.cfg.noSymlinks {
					return unix.ELOOP
				}
				isLink = true
				target, err = readlinkat(parent, last)
				return err
			}
			return errNotRegular
		})
		if err != nil || !isLink {
			return err
		}
		if target == "" {
			return unix.ENOENT
		}
		if dir, _ := splitLast(name); dir != "" && !strings.HasPrefix(target, "/") {
			target = dir + "/" + target
		}
		name = target
	}
	return unix.ELOOP
}

// newAtomicFile creates the file in the stage that stages keeps for
// parent. It owns nothing of the caller's: parent is only borrowed.
func newAtomicFile(stages *stageCache, parent int, last string, old *unix.Stat_t, perm uint32, name, fileName string) (_ *AtomicFile, err error) {
	f := &AtomicFile{name: name, last: last, stages: stages, syncfs: -1}
	if old != nil {
		// Created with the old file's permissions, so that Commit seldom
		// has to change them: nobody else can reach the file in the stage
		// whatever its mode. Not its set-ID bits (S7): they vouched for
		// the old content, and new content gets them only from Chmod.
		f.old, perm = old, keptPerm(old)
	}
	var fd int
	f.stage, err = stages.Hold(parent, staging.Stage, func(stage *staging.Dir) (err error) {
		if !stage.ParentReadable && !haveSyncfs {
			// Nothing could make the rename durable: fail before
			// anything is created.
			return unix.EACCES
		}
		fd, f.staged, err = createStaged(stage, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !f.stage.ParentReadable {
		// A directory we may write and search but not read (mode 0311
		// drop boxes): sync the whole filesystem instead of the
		// directory, through a descriptor of the file's own.
		if f.syncfs, err = unix.FcntlInt(uintptr(parent), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			closeFd(fd)
			f.discardStaged()
			return nil, err
		}
	}
	f.File = os.NewFile(uintptr(fd), fileName)
	// A safety net for an AtomicFile dropped without Close: the file closes
	// itself, the stage is let go of here. Whatever was staged stays
	// behind for RemoveStale.
	type owned struct {
		syncfs int
		stages *stageCache
		stage  *staging.Dir
	}
	f.cleanup = runtime.AddCleanup(f, func(o owned) {
		if o.syncfs >= 0 {
			closeFd(o.syncfs)
		}
		o.stages.Drop(o.stage)
	}, owned{f.syncfs, stages, f.stage})
	return f, nil
}

// discardStaged removes the staged file if it is still in the stage (by
// the name we gave it: S2), and lets go of the stage, which the Dir keeps
// for later (or removes, when it was made for this file alone).
func (f *AtomicFile) discardStaged() error {
	var err error
	if f.staged != "" {
		err = unlinkat.Unlink(f.stage.Fd, f.staged)
	}
	if rerr := f.stages.Release(f.stage); err == nil {
		err = rerr
	}
	return err
}

// dir is the directory that will hold the file: the rename's target.
func (f *AtomicFile) dir() int {
	if f.syncfs >= 0 {
		return f.syncfs
	}
	return f.stage.Parent
}

// keptPerm is the mode a replacement of old is created with and published
// with, unless AtomicFile.Chmod says otherwise: old's permission and sticky
// bits, without set-user-ID and set-group-ID (S7).
func keptPerm(old *unix.Stat_t) uint32 {
	return uint32(old.Mode) & 0o7777 &^ (unix.S_ISUID | unix.S_ISGID)
}

// createNamed creates the file under a fresh name in the stage.
func createNamed(stage *staging.Dir, perm uint32) (int, string, error) {
	name := stage.NewName("file")
	fd, err := openat(stage.Fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, perm)
	return fd, name, err
}

// Commit publishes the file under its name, durably, in this order: the
// file is given its name in the stage (an unnamed O_TMPFILE; copied into a
// named file where the filesystem turns out unable to link it, see
// AtomicFile), the old file's owner and mode are applied, the file is
// fsync'ed and renamed over the final name in one rename(2), then the
// directory is fsync'ed (on macOS, F_FULLFSYNC both times), and the stage
// is removed. A failure before the rename leaves the old file as it was; a
// failure of the directory fsync is reported although the new content is
// already visible. Either way everything staged is removed and the file is
// closed: a later Close does nothing, a second Commit fails.
func (f *AtomicFile) Commit() error { return f.commit(true) }

// CommitNoSync publishes the file as Commit does, atomically (G2), but
// skips both flushes: neither the file nor the rename is fsync'ed, so a
// crash soon after may leave the old content, or an empty or partial new
// file, under the name. It is for many files that are flushed together
// afterwards (extraction into an Install stage, which flushes the whole
// tree once), where a flush per file would cost more than all the rest.
func (f *AtomicFile) CommitNoSync() error { return f.commit(false) }

func (f *AtomicFile) commit(durable bool) error {
	switch f.state {
	case atomicCommitted:
		return &fs.PathError{Op: "commit", Path: f.name, Err: errCommitted}
	case atomicDiscarded:
		return &fs.PathError{Op: "commit", Path: f.name, Err: fs.ErrClosed}
	}
	f.state = atomicCommitted
	err := f.publish(durable)
	f.release()
	return err
}

func (f *AtomicFile) publish(durable bool) error {
	// Named first: where the filesystem cannot link the unnamed file,
	// linkIntoStage leaves a named copy in its place, and the old owner
	// and mode, and the fsync, are then the copy's.
	if f.staged == "" {
		if err := f.linkIntoStage(); err != nil {
			return err
		}
	}
	if f.old != nil {
		if err := f.restoreOwnerAndMode(); err != nil {
			return err
		}
	}
	if durable {
		if err := f.File.Sync(); err != nil {
			return err
		}
	}
	if err := eintr.Retry(func() error { return unix.Renameat(f.stage.Fd, f.staged, f.dir(), f.last) }); err != nil {
		return &fs.PathError{Op: "renameat", Path: f.name, Err: err}
	}
	f.staged = ""
	if !durable {
		return nil
	}
	if err := f.syncDir(); err != nil {
		return &fs.PathError{Op: "fsync", Path: f.name, Err: fmt.Errorf("%w (the new content is in place but may not survive a crash)", err)}
	}
	return nil
}

// restoreOwnerAndMode gives the new file the old one's owner, group and
// mode less its set-ID bits (usually nothing changes: the file was created
// with those permissions, and by the old owner more often than not).
func (f *AtomicFile) restoreOwnerAndMode() error {
	mode := fileinfo.Mode(uint32(f.old.Mode)&unix.S_IFMT | keptPerm(f.old))
	if f.modeSet {
		mode = f.mode
	}
	return setOwnerAndMode(f.File, f.old, mode)
}

// setOwnerAndMode gives file the owner and group of owner (unless nil) and
// mode, changing only what differs. Only root (CAP_CHOWN) may give a file
// away, and an owner may set the group only to one it belongs to: what the
// caller may not change is left as created, as documented on AtomicFile.
func setOwnerAndMode(file *os.File, owner *unix.Stat_t, mode fs.FileMode) error {
	st, err := fstatFile(file)
	if err != nil {
		return err
	}
	if owner != nil && (st.Uid != owner.Uid || st.Gid != owner.Gid) {
		err := file.Chown(int(owner.Uid), int(owner.Gid))
		if errors.Is(err, fs.ErrPermission) {
			err = file.Chown(-1, int(owner.Gid))
		}
		if err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
		// fchown clears the set-id bits: set the mode afterwards, always.
		return file.Chmod(mode)
	}
	if uint32(st.Mode)&0o7777 != fileinfo.Perm(mode) {
		return file.Chmod(mode)
	}
	return nil
}

// fstatFile is fstat(2) of an open file.
func fstatFile(file *os.File) (*unix.Stat_t, error) {
	rc, err := file.SyscallConn()
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	var statErr error
	if err := rc.Control(func(fd uintptr) {
		statErr = eintr.Retry(func() error { return unix.Fstat(int(fd), &st) })
	}); err != nil {
		return nil, err
	}
	return &st, statErr
}

// Chmod changes the new file's mode now, before anyone can see it, and
// makes it the mode Commit publishes instead of the replaced file's.
// Setting a mode after Commit instead would briefly show the new content
// with the old file's (perhaps wider) permissions.
func (f *AtomicFile) Chmod(mode fs.FileMode) error {
	if err := f.File.Chmod(mode); err != nil {
		return err
	}
	f.mode, f.modeSet = mode, true
	return nil
}

// syncDir makes the rename durable.
func (f *AtomicFile) syncDir() error {
	if f.syncfs >= 0 {
		return f.syncFilesystem()
	}
	return eintr.Retry(func() error { return fullFsync(f.stage.Parent) })
}

// linkIntoStage names the unnamed file in the stage.
//
// Some filesystems (FUSE and network ones) open O_TMPFILE but cannot link
// the file: ProbeDir finds that out before anything relies on it, but
// nothing makes a caller probe first. So when the link fails with EXDEV
// or an unsupported errno, which only the filesystem can mean here,
// o_tmpfile is marked missing on it at once; on any other failure the
// probe is asked now, in a scratch directory inside the stage, and decides with
// an unnamed file of its own whether the failure is the filesystem's
// (then it marks o_tmpfile missing there, and later files take the named
// route from the start). If it is, this file's content is copied into a
// named file in the stage instead and Commit goes on; otherwise the link's
// error is returned. Only a failure costs the probe, and an attacker
// cannot cause one that the probe would blame on the filesystem: the
// stage and the file are out of everyone else's reach.
func (f *AtomicFile) linkIntoStage() error {
	rc, err := f.File.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: "linkat", Path: f.name, Err: err}
	}
	var linkErr error
	if err := rc.Control(func(fd uintptr) { linkErr = f.linkFd(int(fd)) }); err != nil {
		return &fs.PathError{Op: "linkat", Path: f.name, Err: err}
	}
	if linkErr == nil {
		return nil
	}
	if errors.Is(linkErr, unix.EXDEV) || capability.Unsupported(linkErr) {
		// Our own file into our own stage, on one mount: only the
		// filesystem answers this, whichever route LinkFd took (the
		// probe may only be able to try AT_EMPTY_PATH, which an older
		// kernel refuses an unprivileged process).
		why := linkErr.Error()
		if errno, ok := errors.AsType[unix.Errno](linkErr); ok && unix.ErrnoName(errno) != "" {
			why = unix.ErrnoName(errno) + " (" + why + ")"
		}
		capability.MarkMissing(f.stage.Fd, capability.OTmpfile, "open(O_TMPFILE) works but linking the file fails: "+why+" (on this filesystem)")
	} else if r, _ := capability.ProbeDir(f.stage.Fd); r.Has(capability.OTmpfile) {
		return &fs.PathError{Op: "linkat", Path: f.name, Err: linkErr}
	}
	if err := f.copyIntoStage(); err != nil {
		return &fs.PathError{Op: "copy", Path: f.name, Err: fmt.Errorf("%w (after linkat: %v)", err, linkErr)}
	}
	return nil
}

// linkFd names the unnamed file fd in the stage. The stage held nothing
// while the file was unnamed, so another user who may write its parent
// (without the sticky bit) may have removed it meanwhile, as anyone may
// remove an empty directory there: the link then fails with ENOENT, and
// is made in a new stage instead.
func (f *AtomicFile) linkFd(fd int) error {
	name := f.stage.NewName("file")
	err := linkat.LinkFd(fd, f.stage.Fd, name)
	if errors.Is(err, unix.ENOENT) && f.stage.Gone() {
		stage, aerr := f.stages.Acquire(f.dir(), staging.Stage)
		if aerr != nil {
			return err
		}
		f.stages.Drop(f.stage)
		f.stage = stage
		name = f.stage.NewName("file")
		err = linkat.LinkFd(fd, f.stage.Fd, name)
	}
	if err == nil {
		f.staged = name
	}
	return err
}

// copyIntoStage replaces the unnamed file by a named copy in the stage,
// with the content from offset 0 and the unnamed file's mode (which
// AtomicFile.Chmod may have set); Commit then gives it the old file's
// owner and mode and fsyncs it as it would the unnamed one. A named file
// in the stage is the route createNamed takes where there is no
// O_TMPFILE, with the same guarantees (see AtomicFile): it is no
// emulation, so Strict has nothing to refuse.
func (f *AtomicFile) copyIntoStage() error {
	st, err := fstatFile(f.File)
	if err != nil {
		return err
	}
	fd, staged, err := createNamed(f.stage, uint32(st.Mode)&0o7777)
	if err != nil {
		return err
	}
	// From here on release removes it, whatever fails.
	f.staged = staged
	named := os.NewFile(uintptr(fd), f.File.Name())
	if _, err = f.File.Seek(0, io.SeekStart); err == nil {
		_, err = named.ReadFrom(f.File)
	}
	if err == nil {
		// The umask may have cut the mode createNamed asked for.
		err = setOwnerAndMode(named, nil, fileinfo.Mode(uint32(st.Mode)))
	}
	if err != nil {
		named.Close()
		return err
	}
	f.File.Close() // its content is in the copy: a failure here loses nothing
	f.File = named
	return nil
}

// Close discards the file unless Commit was called: it is closed, what
// was staged removed, and name is left as it was. After Commit it does nothing and returns nil.
func (f *AtomicFile) Close() error {
	if f.state != atomicOpen {
		return nil
	}
	f.state = atomicDiscarded
	return f.release()
}

// release closes the file, discards what is still staged and closes the
// descriptor kept for syncfs.
func (f *AtomicFile) release() error {
	f.cleanup.Stop()
	err := f.File.Close()
	if derr := f.discardStaged(); err == nil {
		err = derr
	}
	if f.syncfs >= 0 {
		closeFd(f.syncfs)
	}
	if err != nil && f.state == atomicDiscarded {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}
