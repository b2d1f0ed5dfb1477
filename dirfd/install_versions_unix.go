//go:build unix

package dirfd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/linkat"
	"github.com/racefree/racefree/unlinkat"
)

// The versioned layout's state, NAME.versions, lives in NAME's directory,
// which other users may write: what follows keeps it racefree's own
// (DESIGN.md S5).
//
//   - It is born complete and verified: made in the private stage, given
//     mode 0711 (readers of every uid need to search it to reach a
//     version; nobody but us may list it, create in it or open its lock)
//     and its lock file, then renamed into place without replacing
//     anything. So there is no moment at which it is NAME.versions and
//     not yet ours, and no mkdirat-then-open window to exchange.
//   - It is marked: the lock file, readable and writable by us alone,
//     holds the name it serves. A directory under NAME.versions without
//     that mark (another user's, a directory of ours moved there by
//     someone who can write the parent, or NAME2.versions renamed to
//     NAME.versions) is never published into and never pruned.
//   - Only version IDs are pruned (and their retirement records), never
//     another name.
//   - Installs of one name are serialised by an flock(2) of the lock
//     file, which nobody else can open, so nobody else can hold it; and
//     the current version is read again once the lock is held, so two
//     Installs never retire or prune each other's versions by a stale
//     look. A lock that cannot be had within installLockWait (another
//     Install of ours that is stuck) is an error, not a hang.

// versionsLock is the lock file's name inside NAME.versions.
const versionsLock = staging.Prefix + "lock"

// installLockWait bounds the wait for NAME.versions' lock.
var installLockWait = 30 * time.Second

// errLockTimeout is how Install says that the lock could not be had.
var errLockTimeout = errors.New("another Install of this name holds NAME.versions' lock and has not released it")

// publishVersioned moves the staged tree to NAME.versions/ID and points the
// name at it.
func (in *installer) publishVersioned(cur current, res *InstallResult) error {
	versions, err := in.openVersions(true)
	if err != nil {
		return err
	}
	defer versions.close()
	// Another Install may have published while we built: retire and keep
	// what is current now (S5).
	if cur, err = in.examine(); err != nil {
		return err
	}
	if cur.kind == kindDir {
		return errNoExchangeForDir
	}
	id, err := newVersionID()
	if err != nil {
		return err
	}
	newTree, err := makeMovable(in.treeFd)
	if err != nil {
		return err
	}
	// NAME.versions is ours and nobody else can write it, and the ID is
	// fresh: a plain rename cannot replace anything there.
	if err := eintr.Retry(func() error { return unix.Renameat(in.stage.Fd, in.tree, versions.fd, id) }); err != nil {
		return err
	}
	in.inStage = nil
	// Before the symlink can point at the version: its mode back, the
	// version durable, and the replaced one's retirement recorded.
	err = newTree.restore()
	if err == nil {
		err = flushDir(versions.fd, in.stage.Fd)
	}
	if err == nil && cur.kind == kindVersioned {
		err = versions.retire(cur.version)
	}
	if err == nil {
		err = linkat.ReplaceSymlinkIn(in.d.stages, in.last+VersionsSuffix+"/"+id, in.parent, in.last)
	}
	if err != nil {
		removeTree(versions.fd, id)
		return err
	}
	res.Version, res.Replaced = id, cur.kind != kindNone
	if err := flushDir(in.parent, in.stage.Fd); err != nil {
		return fmt.Errorf("tree published, but flushing the symlink failed: %w", err)
	}
	if in.keepLast != "" && cur.kind == kindVersioned {
		if err := linkat.ReplaceSymlinkIn(in.d.stages, cur.target, in.keepParent, in.keepLast); err != nil {
			return fmt.Errorf("tree published, but the previous one could not be kept as %s and is %s: %w", in.keepLast, cur.target, err)
		}
	}
	versions.prune(id, cur.version)
	return in.displaced
}

// versionsDir is NAME.versions, open, verified as ours and locked against
// other Installs.
type versionsDir struct {
	fd   int
	lock int
	st   unix.Stat_t
}

// openVersions opens NAME.versions, creating it if asked, checks that it is
// racefree's for this name on the name's filesystem, and takes its lock.
// Without create, a missing NAME.versions, or one that is not racefree's
// for this name, is (nil, nil): there is nothing of ours to prune.
func (in *installer) openVersions(create bool) (*versionsDir, error) {
	name := in.last + VersionsSuffix
	deadline := time.Now().Add(installLockWait)
	for {
		v, err := in.tryVersions(name)
		if err == unix.ENOENT && create {
			if err = in.createVersions(name); err == nil || err == unix.EEXIST {
				continue
			}
		}
		if err == unix.ENOENT || errors.Is(err, errNotOurVersions) && !create {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		locked, err := v.lockUntil(deadline)
		if err == nil && locked && v.current(in.parent, name) {
			return v, nil
		}
		v.close()
		if err != nil {
			return nil, err
		}
		if !locked {
			return nil, fmt.Errorf("%s: waited %v: %w", name, installLockWait, errLockTimeout)
		}
		// The directory or its lock was replaced while we waited (the
		// Install holding it removed it): look again.
	}
}

// errNotOurVersions says that NAME.versions exists but is not racefree's
// for this name.
var errNotOurVersions = fmt.Errorf("is not a directory racefree made for this name's versions: refusing to publish into it or prune it: %w", fs.ErrPermission)

// tryVersions opens an existing NAME.versions and its lock and checks both.
func (in *installer) tryVersions(name string) (*versionsDir, error) {
	fd, err := openat(in.parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if isNofollowErr(err) || err == unix.ENOTDIR {
			return nil, fmt.Errorf("%s %w", name, errNotOurVersions)
		}
		return nil, err
	}
	v := &versionsDir{fd: fd, lock: -1}
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &v.st) }); err != nil {
		v.close()
		return nil, err
	}
	if int(v.st.Uid) != os.Geteuid() || v.st.Mode&0o022 != 0 || uint64(v.st.Dev) != in.dev {
		v.close()
		return nil, fmt.Errorf("%s %w", name, errNotOurVersions)
	}
	v.lock, err = openat(fd, versionsLock, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	var lst unix.Stat_t
	if err == nil {
		err = eintr.Retry(func() error { return unix.Fstat(v.lock, &lst) })
	}
	mark := make([]byte, len(in.last)+2)
	n := 0
	if err == nil {
		n, err = eintr.Retry1(func() (int, error) { return unix.Pread(v.lock, mark, 0) })
	}
	if err != nil || lst.Mode&unix.S_IFMT != unix.S_IFREG || int(lst.Uid) != os.Geteuid() || lst.Mode&0o077 != 0 ||
		lst.Nlink != 1 || !bytes.Equal(mark[:n], []byte(in.last+"\n")) {
		v.close()
		if err != nil && err != unix.ENOENT && !isNofollowErr(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%s %w", name, errNotOurVersions)
	}
	return v, nil
}

// createVersions makes NAME.versions in the stage, complete (mode 0711, its
// lock file holding the name), and renames it into place without replacing
// anything: EEXIST if something is there already.
func (in *installer) createVersions(name string) error {
	return in.d.stages.Do(in.parent, staging.Stage, func(s *staging.Dir) error {
		staged := s.NewName("tree")
		if err := eintr.Retry(func() error { return unix.Mkdirat(s.Fd, staged, 0o700) }); err != nil {
			return err
		}
		err := func() error {
			fd, err := openat(s.Fd, staged, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer closeFd(fd)
			lock, err := openat(fd, versionsLock, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if err != nil {
				return err
			}
			_, err = eintr.Retry1(func() (int, error) { return unix.Write(lock, []byte(in.last+"\n")) })
			if cerr := closeFd(lock); err == nil {
				err = cerr
			}
			if err == nil {
				err = eintr.Retry(func() error { return unix.Fchmod(fd, 0o711) })
			}
			if err == nil {
				err = renameNew(s.Fd, staged, in.parent, name)
			}
			return err
		}()
		if err != nil {
			// Ours, in our stage, and still there: the rename failed.
			unlinkat.Unlink(s.Fd, staged+"/"+versionsLock)
			unlinkat.Rmdir(s.Fd, staged)
		}
		return err
	})
}

// lockUntil takes the lock, trying again until deadline; locked is false
// when the deadline passed first.
func (v *versionsDir) lockUntil(deadline time.Time) (locked bool, err error) {
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := eintr.Retry(func() error { return unix.Flock(v.lock, unix.LOCK_EX|unix.LOCK_NB) })
		if err == nil {
			return true, nil
		}
		if err != unix.EWOULDBLOCK {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(wait)
	}
}

// current reports whether the locked directory is still NAME.versions and
// its lock file still its lock: the Install that held the lock before may
// have removed both (see removeIfEmpty), and a lock on an unlinked file
// serialises nothing.
func (v *versionsDir) current(parent int, name string) bool {
	var dst, lst, now unix.Stat_t
	return eintr.Retry(func() error { return unix.Fstatat(parent, name, &dst, unix.AT_SYMLINK_NOFOLLOW) }) == nil &&
		dst.Dev == v.st.Dev && dst.Ino == v.st.Ino &&
		eintr.Retry(func() error { return unix.Fstat(v.lock, &lst) }) == nil &&
		eintr.Retry(func() error { return unix.Fstatat(v.fd, versionsLock, &now, unix.AT_SYMLINK_NOFOLLOW) }) == nil &&
		lst.Nlink == 1 && now.Dev == lst.Dev && now.Ino == lst.Ino
}

// close releases the lock and the descriptors; a nil versionsDir is fine.
func (v *versionsDir) close() {
	if v == nil {
		return
	}
	if v.lock >= 0 {
		closeFd(v.lock)
		v.lock = -1
	}
	if v.fd >= 0 {
		closeFd(v.fd)
		v.fd = -1
	}
}

// removeIfEmpty removes NAME.versions once it holds nothing but its lock:
// the lock file first (by its name, ours), then the directory, which
// rmdir removes only if nothing has appeared in it. An Install waiting for
// the lock meanwhile finds its lock file unlinked and starts again (see
// current).
func (v *versionsDir) removeIfEmpty(parent int, name string) {
	names, err := v.names()
	if err != nil || len(names) != 1 || names[0] != versionsLock {
		return
	}
	if unlinkat.Unlink(v.fd, versionsLock) == nil {
		var now unix.Stat_t
		if eintr.Retry(func() error { return unix.Fstatat(parent, name, &now, unix.AT_SYMLINK_NOFOLLOW) }) == nil &&
			now.Dev == v.st.Dev && now.Ino == v.st.Ino {
			unlinkat.Rmdir(parent, name)
		}
	}
}

// names lists NAME.versions, a directory of ours. A fresh open, not a dup:
// btrfs lists through a descriptor only the entries older than its open,
// and v.fd may predate a new version.
func (v *versionsDir) names() ([]string, error) {
	nfd, err := openat(v.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), VersionsSuffix)
	defer f.Close()
	return f.Readdirnames(-1)
}

const (
	// retiredSuffix names the empty file whose modification time records
	// when a version stopped being the current one.
	retiredSuffix = ".retired"
	// retiredGrace is how long a replaced version stays, for readers who
	// resolved the old symlink just before it was replaced.
	retiredGrace = 10 * time.Second
)

// retire records that version id stops being current now.
func (v *versionsDir) retire(id string) error {
	marker := id + retiredSuffix
	if err := unlinkat.Unlink(v.fd, marker); err != nil && err != unix.ENOENT {
		return err
	}
	fd, err := openat(v.fd, marker, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return closeFd(fd)
}

// prune removes the versions that are not named in keep and either were
// never retired (left by a crash before they were published) or were
// retired at least retiredGrace ago, and retirement records whose version
// is gone. Only names of the form racefree gives versions are touched
// (S5). It is best effort: what it cannot remove now is tried again by the
// next Install.
func (v *versionsDir) prune(keep ...string) {
	names, err := v.names()
	if err != nil {
		return
	}
	now := time.Now()
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, retiredSuffix); ok {
			if isVersionID(id) && !slices.Contains(names, id) {
				unlinkat.Unlink(v.fd, n)
			}
			continue
		}
		if !isVersionID(n) || slices.Contains(keep, n) {
			continue
		}
		var st unix.Stat_t
		if eintr.Retry(func() error { return unix.Fstatat(v.fd, n+retiredSuffix, &st, unix.AT_SYMLINK_NOFOLLOW) }) == nil &&
			now.Sub(time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))) < retiredGrace {
			continue
		}
		if removeTree(v.fd, n) == nil {
			unlinkat.Unlink(v.fd, n+retiredSuffix)
		}
	}
}

// versionIDLen is the length of a version's name: hex of 8 random bytes.
const versionIDLen = 16

func newVersionID() (string, error) {
	var b [versionIDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// isVersionID recognises the IDs newVersionID makes, so that only a symlink
// of exactly Install's form is taken for a versioned tree, and only such
// names are pruned.
func isVersionID(s string) bool {
	if len(s) != versionIDLen {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
