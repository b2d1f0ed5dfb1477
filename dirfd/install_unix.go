//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/renameat2"
	"github.com/racefree/racefree/unlinkat"
)

// Install puts a new directory tree under name all at once (G5): every
// reader that resolves name sees the whole old tree or the whole new one,
// never a mix and never a missing name, and a crash or SIGKILL at any
// moment leaves the old tree in place.
//
// build fills the new tree through stage, a Dir on the tree's top
// directory with d's options except that it is always Beneath, so nothing
// build does through it can reach outside the tree. The tree is built in
// the Dir's private staging directory (mode 0700, named with staging
// prefix ".racefree-") in name's parent, where no other user can touch it,
// on the same filesystem as name. Then the top directory gets its mode (see Mode),
// the Verify checks run, the tree is flushed to disk (one syncfs(2) on
// Linux; elsewhere an fsync(2), F_FULLFSYNC on macOS, of every file and
// directory) and published in one step:
//
//   - LayoutDirect, wherever the filesystem has an atomic exchange: one
//     renameat2(RENAME_EXCHANGE) swaps the staged tree with the one under
//     name (one renameat2(RENAME_NOREPLACE) when name is new). The moment
//     of change is that one system call, whatever the size of the tree.
//   - LayoutVersioned, the fallback where it has not (NFS, CIFS, some FUSE
//     filesystems, systems without renameat2, RACEFREE_DISABLE=
//     rename_exchange): the tree is moved to NAME.versions/ID and name
//     becomes a symlink to it, replaced atomically (linkat.ReplaceSymlink).
//     Resolving a symlink and then its target is not one atomic step: a
//     reader who read the old symlink just before the swap must still find
//     the tree it points to. So a replaced version is pruned only by a
//     later Install, and only once it has been replaced for at least ten
//     seconds (an empty NAME.versions/ID.retired records when); the version
//     an Install replaces is never pruned by that same Install. A version
//     without that record (moved in by an Install that was killed before
//     publishing it, or replaced by a roll-back with Rename) is pruned by
//     the next Install at once. Concurrent Installs of one name are
//     serialised by an flock(2) on NAME.versions. A Strict Dir refuses
//     this layout with an error wrapping errors.ErrUnsupported.
//
// The Result option reports which layout ran. A name is never moved from
// one layout to the other behind the caller's back, except that a
// versioned name on a filesystem that has the exchange is turned into a
// directory (atomically, by exchanging the directory with the symlink; its
// versions are pruned as above, by this and later Installs). The opposite
// cannot be done atomically: renaming a symlink over a directory fails. So
// where the exchange is missing and name already is a directory, Install
// refuses, with an error wrapping
// errors.ErrUnsupported, before calling build: install under a new name, or
// move the directory away first. An existing name that is neither a
// directory nor a symlink made by Install fails with an error matching
// syscall.ENOTDIR, also before build, and is left alone.
//
// After the swap the old tree is removed, unless KeepPrevious keeps it. A
// reader still inside the old tree (holding a descriptor of it, or its
// working directory) sees its entries disappear; readers who resolve name
// afresh are never affected.
//
// The kernel lets a directory move to another parent (here, from the stage
// to name's directory) only for a caller who may write to it, since its
// ".." changes. Root may; an owner whose tree lacks owner write (Mode(0o555))
// may not. For an unprivileged caller such a directory (the new tree, and
// in LayoutDirect the old one) gets owner write for the moment of the move
// and its mode back right after, which changes no one else's access.
//
// If build or a Verify check fails, or Install fails before publishing, the
// staged tree is removed and name keeps its old tree untouched. After a
// crash, the half-built or replaced tree is left in the staging directory in
// name's parent; RemoveStale removes it. With KeepPrevious (LayoutDirect)
// the tree is published from the Dir's move-aside place instead, because
// the exchange brings the previous tree, which the caller asked to keep,
// into the place the new one left: a crash before it reaches the
// KeepPrevious name leaves it there, and RemoveStale puts it back under a
// visible "racefree-conflict-" name rather than removing it (and so it
// does with a new tree a crash left there before the exchange). In LayoutVersioned, a crash between moving the tree into
// NAME.versions and replacing the symlink also leaves a version nothing
// refers to, which the next Install prunes at once. An error that comes
// after the new tree was published says so ("tree published, but ...").
//
// Inside build, write files with Create or OpenFile and close them: the
// whole tree is flushed once before it is published, so the per-file
// flush of WriteFile or CreateAtomic would only add time. build and Verify
// must not close stage; Install closes it when they are done.
//
// What Install replaces, and removes, is the directory that is under name
// when it looks: in a directory other users may write without the sticky
// bit, one of them can rename any directory of that directory to name
// beforehand, as they could for RemoveAll(name). Something swapped under
// name after the look is not removed: the exchange is undone and tried
// again, and if name keeps changing the object is kept under a visible
// "racefree-conflict-" name and the error (matching ErrChanged) says so.
//
// Cost, beyond build and the removal of the old tree, in LayoutDirect on
// Linux: about 16 system calls (examine the name, create and check the
// tree's directory, two syncfs, the renameat2 and the identity checks
// around it), the stage's making the first time the Dir writes into name's
// parent, and about 35 more to probe the filesystem when name is new.
func (d *Dir) Install(name string, build func(stage *Dir) error, opts ...InstallOption) error {
	var c installConfig
	for _, o := range opts {
		o(&c)
	}
	err := d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			in := &installer{d: d, cfg: &c, name: name, parent: parent, last: strings.TrimRight(last, "/"), treeFd: -1}
			if !c.keepSet {
				return in.run(build)
			}
			if err := checkName(c.keep); err != nil {
				return fmt.Errorf("KeepPrevious: %w", err)
			}
			return d.inParent(c.keep, func(kparent int, klast string) error {
				in.keepParent, in.keepLast = kparent, strings.TrimRight(klast, "/")
				return in.run(build)
			})
		})
	})
	return pathErr("install", name, err)
}

// installer is one Install call: name's parent and last component, and the
// KeepPrevious name's.
type installer struct {
	d          *Dir
	cfg        *installConfig
	name       string
	parent     int
	last       string
	dev        uint64 // of the parent: the filesystem the tree is built and published on
	keepParent int
	keepLast   string       // "" without KeepPrevious
	stage      *staging.Dir // the private stage in parent, kept by the Dir
	tree       string       // the staged tree's name in the stage
	treeFd     int          // the staged tree's top directory, once made
	// inStage is what the stage holds under tree at the end, to be removed
	// only while tree still refers to it (S2): the staged tree after a
	// failure, the old tree after the exchange; nil once tree is gone.
	inStage *unix.Stat_t
	// leaveStage is set when the old tree could not be kept under the
	// KeepPrevious name after the new one was published: the stage holding
	// it is left for the caller to recover it from (RemoveStale puts it
	// back under a visible name).
	leaveStage bool
	// displaced reports an object found where the tree was published that
	// was not the one examined, kept rather than removed (see exchange).
	displaced error
}

// maxInstallRetries bounds how often the publication looks at the name
// again after another process changed it between the look and the rename.
const maxInstallRetries = 3

// maxExchangeRetries bounds how often an exchange that brought back
// another object than the one examined is undone and tried again (see
// exchange): concurrent Installs of one name meet there often.
const maxExchangeRetries = 32

var (
	errNoExchangeForDir = fmt.Errorf("the filesystem has no atomic exchange (RENAME_EXCHANGE), and an existing directory cannot be replaced atomically by the versioned layout's symlink (install under a new name, or move the directory away first): %w", errors.ErrUnsupported)
	errStrictVersioned  = fmt.Errorf("the filesystem has no atomic exchange (RENAME_EXCHANGE), and Strict refuses the versioned layout: %w", errors.ErrUnsupported)
	errKeepElsewhere    = fmt.Errorf("KeepPrevious: the name must be another entry in the same directory as the installed name: %w", unix.EINVAL)
)

func (in *installer) run(build func(stage *Dir) error) error {
	if in.last == "" || in.last == "." || in.last == ".." {
		return unix.EINVAL
	}
	var pst unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(in.parent, &pst) }); err != nil {
		return err
	}
	in.dev = uint64(pst.Dev)
	if in.keepLast != "" {
		var kst unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstat(in.keepParent, &kst) }); err != nil {
			return err
		}
		if kst.Dev != pst.Dev || kst.Ino != pst.Ino || in.keepLast == in.last || in.keepLast == in.last+VersionsSuffix ||
			in.keepLast == "." || in.keepLast == ".." || in.keepLast == "" {
			return errKeepElsewhere
		}
	}
	cur, err := in.examine()
	if err != nil {
		return err
	}
	layout, err := in.chooseLayout(cur)
	if err != nil {
		return err
	}
	perm := uint32(0o755)
	if in.cfg.setMode {
		perm = 0o700 // the exact mode is set after build
	}
	in.stage, err = in.d.stages.Hold(in.parent, staging.Stage, func(s *staging.Dir) error {
		in.tree = s.NewName("tree")
		return eintr.Retry(func() error { return unix.Mkdirat(s.Fd, in.tree, perm) })
	})
	if err != nil {
		return err
	}
	defer in.cleanup()
	if err := in.stageTree(build); err != nil {
		return err
	}
	if err := flushTree(in.stage.Fd, in.tree); err != nil {
		return err
	}
	if layout == LayoutDirect && in.keepLast != "" {
		// The exchange brings the previous tree into the directory the
		// new one left, and a kill before it reaches the KeepPrevious
		// name would leave it there: in a move-aside place RemoveStale
		// puts it back, in a stage it would remove it. The move changes
		// the tree's parent, which needs write permission on it.
		m, err := makeMovable(in.treeFd)
		if err != nil {
			return err
		}
		err = in.moveAside()
		if rerr := m.restore(); err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
	}
	res := InstallResult{Layout: layout}
	if layout == LayoutDirect {
		err = in.publishDirect(cur, &res)
	} else {
		err = in.publishVersioned(cur, &res)
	}
	if err == nil && in.cfg.result != nil {
		*in.cfg.result = res
	}
	return err
}

type treeKind uint8

const (
	kindNone      treeKind = iota // nothing under the name
	kindDir                       // a directory: LayoutDirect
	kindVersioned                 // a symlink to NAME.versions/ID: LayoutVersioned
)

// current is what the name holds when Install looks at it.
type current struct {
	kind    treeKind
	target  string // kindVersioned: the symlink's target
	version string // kindVersioned: the ID it points at
}

// examine looks at what the name holds, refusing anything Install did not
// make.
func (in *installer) examine() (current, error) {
	var st unix.Stat_t
	err := eintr.Retry(func() error { return unix.Fstatat(in.parent, in.last, &st, unix.AT_SYMLINK_NOFOLLOW) })
	switch {
	case err == unix.ENOENT:
		return current{kind: kindNone}, nil
	case err != nil:
		return current{}, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return current{kind: kindDir}, nil
	case unix.S_IFLNK:
		target, err := readlinkat(in.parent, in.last)
		if err != nil {
			return current{}, err
		}
		if id, ok := strings.CutPrefix(target, in.last+VersionsSuffix+"/"); ok && isVersionID(id) {
			return current{kind: kindVersioned, target: target, version: id}, nil
		}
		return current{}, fmt.Errorf("the name is a symlink to %q, which Install did not make, not a directory tree: %w", target, unix.ENOTDIR)
	}
	return current{}, fmt.Errorf("the name is a %v, not a directory tree: %w", fileinfo.Mode(uint32(st.Mode)).Type(), unix.ENOTDIR)
}

// chooseLayout decides how the tree will be published, before anything is
// built, so that a refusal costs the caller nothing.
func (in *installer) chooseLayout(cur current) (Layout, error) {
	// renameat2(RENAME_EXCHANGE), learned per filesystem, on Linux;
	// renameatx_np(RENAME_SWAP) on macOS.
	exchange := capability.HasAt(in.parent, capability.RenameExchange)
	if exchange && cur.kind == kindNone {
		// A new name would be published as a plain directory, which the
		// next Install can replace only by exchange: rather than assume the
		// kernel's answer holds for this filesystem, ask the filesystem.
		if r, err := capability.ProbeDir(in.parent); err == nil {
			exchange = r.Has(capability.RenameExchange)
		}
	}
	exchange = exchange || capability.Has(capability.RenameatxNp)
	var layout Layout
	switch {
	case exchange, cur.kind == kindNone && in.d.cfg.strict:
		// Strict may still publish a new name directly: a rename to a new
		// name is atomic everywhere.
		layout = LayoutDirect
	case cur.kind == kindDir:
		return 0, errNoExchangeForDir
	case in.d.cfg.strict:
		return 0, errStrictVersioned
	default:
		layout = LayoutVersioned
	}
	if layout == LayoutVersioned && in.keepLast != "" {
		// The previous version is kept as a symlink, which cannot replace
		// a directory atomically: refuse now rather than after publishing.
		var st unix.Stat_t
		err := eintr.Retry(func() error { return unix.Fstatat(in.keepParent, in.keepLast, &st, unix.AT_SYMLINK_NOFOLLOW) })
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return 0, fmt.Errorf("KeepPrevious: %s is a directory, which the versioned layout cannot replace by a symlink atomically: %w", in.keepLast, unix.EISDIR)
		}
	}
	return layout, nil
}

// stageTree opens the tree's directory, just made in the stage, and runs
// build and the checks on it.
func (in *installer) stageTree(build func(*Dir) error) error {
	// The stage is private: the directory just made cannot have been
	// replaced; its identity is recorded for its removal (S2).
	fd, err := openat(in.stage.Fd, in.tree, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in.treeFd = fd
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return err
	}
	in.inStage = &st
	// build gets a descriptor of its own, so that the one the mode is set
	// through stays ours whatever build does with stage.
	sdFd, err := eintr.Retry1(func() (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	cfg := in.d.cfg
	cfg.mode = modeBeneath
	dir, _ := splitLast(in.name)
	sd := newDir(in.d.join(path.Join(dir, in.stage.Name, in.tree)), sdFd, in.dev, cfg)
	defer sd.Close()
	if err := build(sd); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if in.cfg.setMode {
		mode := fileinfo.Perm(in.cfg.mode)
		if err := eintr.Retry(func() error { return unix.Fchmod(in.treeFd, mode) }); err != nil {
			return err
		}
	}
	for _, check := range in.cfg.verify {
		if err := check(sd); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	return nil
}

// publishDirect swaps the staged tree in with one rename. On return without
// error, the stage holds under in.tree what the name held (if anything) or
// what the KeepPrevious name held, which cleanup removes (see exchange).
func (in *installer) publishDirect(cur current, res *InstallResult) error {
	var versions *versionsDir
	if cur.kind == kindVersioned {
		// The name is a versioned symlink turning into a directory: its
		// version is retired like any replaced version.
		var err error
		if versions, err = in.openVersions(false); err != nil {
			return err
		}
		defer versions.close()
		if versions != nil {
			if err := versions.retire(cur.version); err != nil {
				return err
			}
		}
	}
	newTree, err := makeMovable(in.treeFd)
	if err != nil {
		return err
	}
	oldTree := movable{fd: -1}
	defer func() { oldTree.close() }()
	for tries := 0; ; tries++ {
		if cur.kind == kindDir && oldTree.fd < 0 {
			if oldTree, err = openMovable(in.parent, in.last); err != nil {
				return err
			}
		}
		if cur.kind == kindNone {
			if err = renameNew(in.stage.Fd, in.tree, in.parent, in.last); err == nil {
				in.inStage = nil
			}
		} else {
			err = in.exchange(in.parent, in.last)
		}
		if err == nil {
			break
		}
		// The old tree stays where it is: its mode goes back.
		oldTree.restore()
		oldTree.close()
		raced := cur.kind == kindNone && (err == unix.EEXIST || err == unix.ENOTEMPTY) ||
			cur.kind != kindNone && err == unix.ENOENT
		if raced && tries < maxInstallRetries {
			// Another process created or removed the name since we looked.
			if cur, err = in.examine(); err != nil {
				return err
			}
			continue
		}
		if cur.kind == kindVersioned && errors.Is(err, errors.ErrUnsupported) && !in.d.cfg.strict {
			// The exchange, tried here for the first time on this
			// filesystem, is missing after all (it has now been
			// recorded so): a versioned name stays versioned.
			versions.close()
			versions = nil
			if err := newTree.restore(); err != nil {
				return err
			}
			res.Layout = LayoutVersioned
			return in.publishVersioned(cur, res)
		}
		return err
	}
	res.Replaced = cur.kind != kindNone
	if err := newTree.restore(); err != nil {
		return fmt.Errorf("tree published, but its mode could not be restored: %w", err)
	}
	if err := flushDir(in.parent, in.stage.Fd); err != nil {
		return fmt.Errorf("tree published, but flushing the rename failed: %w", err)
	}
	if res.Replaced && in.keepLast != "" && in.inStage != nil {
		err := in.keepDirect()
		if err == nil {
			err = oldTree.restore()
		}
		if err != nil {
			return in.rescue(fmt.Errorf("tree published, but the previous one could not be kept as %s: %w", in.keepLast, err))
		}
	}
	if versions == nil {
		// A name that was versioned once may have versions left to prune.
		versions, _ = in.openVersions(false)
		defer versions.close()
	}
	if versions != nil {
		versions.prune(cur.version)
		// Gone once nothing is left in it but its lock; until then, later
		// Installs prune it.
		versions.removeIfEmpty(in.parent, in.last+VersionsSuffix)
	}
	return in.displaced
}

// exchange swaps the staged entry in.tree with name in dir, which must
// exist, in one renameat2(RENAME_EXCHANGE), and decides what becomes of
// what name held, now in the stage: it is removed with the stage (by
// cleanup) only if it is the object that was under name just before the
// exchange (S2).
//
// Anyone who can write dir can put another object under name between that
// look and the exchange: another Install of ours publishing the same name
// a moment earlier, or another user swapping in a directory of theirs, or
// one of ours from that directory (a same-directory exchange needs no
// permission on the objects). Neither is ours to remove. So the exchange
// is undone (what name held goes back, our entry back to the stage) and
// tried again, which is what a concurrent Install needs; if name keeps
// changing, the object is kept under a visible fallback.ConflictPrefix
// name in dir and in.displaced says where.
func (in *installer) exchange(dir int, name string) error {
	var mine unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(in.stage.Fd, in.tree, &mine, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	for try := 0; ; try++ {
		var before, got unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstatat(dir, name, &before, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
			return err
		}
		if err := renameat2.Rename(in.stage.Fd, in.tree, dir, name, renameat2.Exchange); err != nil {
			return err
		}
		err := eintr.Retry(func() error { return unix.Fstatat(in.stage.Fd, in.tree, &got, unix.AT_SYMLINK_NOFOLLOW) })
		if err == nil && fallback.Same(&got, &before) {
			in.inStage = &got
			return nil
		}
		if try < maxExchangeRetries && renameat2.Rename(in.stage.Fd, in.tree, dir, name, renameat2.Exchange) == nil &&
			eintr.Retry(func() error { return unix.Fstatat(in.stage.Fd, in.tree, &got, unix.AT_SYMLINK_NOFOLLOW) }) == nil &&
			fallback.Same(&got, &mine) {
			// Undone: look again, after a pause that grows, so that
			// another Install of the name (the innocent cause) gets
			// through its own exchange first.
			time.Sleep(time.Duration(try+1) * 30 * time.Microsecond)
			continue
		}
		break
	}
	// The stage holds an object that is neither ours nor the one examined.
	in.inStage = nil
	kept, kerr := fallback.Keep(noReplaceRename, in.stage.Fd, in.tree, dir)
	if kerr != nil {
		if in.stage.Kind != staging.Aside {
			in.moveAside() // where RemoveStale puts it back, rather than removes it
		}
		in.leaveStage = true
		in.displaced = fmt.Errorf("%s kept changing while it was replaced; an object exchanged out from under it that was not the one examined could not be moved out of %s (%v): %w", name, in.stage.Name, kerr, ErrChanged)
		return nil
	}
	in.displaced = fmt.Errorf("%s kept changing while it was replaced; an object exchanged out from under it that was not the one examined is kept as %s: %w", name, kept, ErrChanged)
	return nil
}

// rescue moves what the stage holds under in.tree (the old tree) out to a
// visible fallback.ConflictPrefix name in the parent, where its owner can
// find it and RemoveStale never removes it, and returns err saying where.
// If even that fails, it is left where it is, in a move-aside place (see
// run), from where RemoveStale puts it back under such a name.
func (in *installer) rescue(err error) error {
	kept, kerr := fallback.Keep(noReplaceRename, in.stage.Fd, in.tree, in.parent)
	if kerr != nil {
		in.leaveStage = true
		return fmt.Errorf("%w; it is left in %s as %s (%v)", err, in.stage.Name, in.tree, kerr)
	}
	in.inStage = nil
	return fmt.Errorf("%w; it is kept as %s", err, kept)
}

// moveAside moves what the stage holds under in.tree into the Dir's
// move-aside place in the parent, and makes that the stage Install goes
// on with: what is left there after a kill is put back by RemoveStale,
// never removed (S4).
func (in *installer) moveAside() error {
	var entry string
	place, err := in.d.stages.Hold(in.parent, staging.Aside, func(p *staging.Dir) error {
		entry = p.NewName("object")
		return eintr.Retry(func() error { return unix.Renameat(in.stage.Fd, in.tree, p.Fd, entry) })
	})
	if err != nil {
		return err
	}
	in.d.stages.Release(in.stage)
	in.stage, in.tree = place, entry
	return nil
}

// noReplaceRename is the fallback.RenameFunc with which Install and
// RemoveStale put somebody's object under a conflict name.
func noReplaceRename(olddirfd int, oldname string, newdirfd int, newname string) error {
	return renameat2.Rename(olddirfd, oldname, newdirfd, newname, renameat2.NoReplace)
}

// keepDirect moves the old tree from the stage to the KeepPrevious name,
// atomically replacing what is there (which the stage then holds, see
// exchange).
func (in *installer) keepDirect() error {
	var st unix.Stat_t
	err := eintr.Retry(func() error { return unix.Fstatat(in.keepParent, in.keepLast, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if err == unix.ENOENT {
		if err = renameNew(in.stage.Fd, in.tree, in.keepParent, in.keepLast); err == nil {
			in.inStage = nil
		}
		return err
	}
	if err != nil {
		return err
	}
	evicted := movable{fd: -1}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if evicted, err = openMovable(in.keepParent, in.keepLast); err != nil {
			return err
		}
	}
	defer evicted.close()
	err = in.exchange(in.keepParent, in.keepLast)
	if err != nil {
		evicted.restore()
	}
	return err
}

// renameNew renames a directory to a name that does not exist.
func renameNew(olddir int, oldname string, newdir int, newname string) error {
	if capability.HasAt(newdir, capability.RenameNoReplace) {
		err := renameat2.Rename(olddir, oldname, newdir, newname, renameat2.NoReplace)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	// A plain rename publishes a new name just as atomically. The only
	// difference: an empty directory created under the name meanwhile is
	// replaced rather than refused, and nothing is lost with it.
	return eintr.Retry(func() error { return unix.Renameat(olddir, oldname, newdir, newname) })
}

// movable is a directory about to be moved to another parent, which the
// kernel allows only to a caller who may write to it (its ".." changes).
// Root may; an owner whose directory lacks owner write may not. For the
// moment of the move such a directory of ours gets owner write, and its
// mode back afterwards (restore), through a descriptor that moves with it.
type movable struct {
	fd      int // -1: nothing to restore or close
	owned   bool
	mode    uint32
	changed bool
}

// makeMovable prepares the directory fd, which stays the caller's.
func makeMovable(fd int) (movable, error) {
	m := movable{fd: fd}
	if os.Geteuid() == 0 {
		return m, nil
	}
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return m, err
	}
	if st.Mode&0o200 != 0 || int(st.Uid) != os.Geteuid() {
		return m, nil // writable already, or not ours to change: the kernel decides
	}
	m.mode = uint32(st.Mode & 0o7777)
	if err := eintr.Retry(func() error { return unix.Fchmod(fd, m.mode|0o200) }); err != nil {
		return m, err
	}
	m.changed = true
	return m, nil
}

// openMovable opens the directory name in dirfd and prepares it; close
// releases the descriptor. Root needs no preparation and opens nothing.
func openMovable(dirfd int, name string) (movable, error) {
	if os.Geteuid() == 0 {
		return movable{fd: -1}, nil
	}
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		// Not a directory we can read: the rename will say what is wrong.
		return movable{fd: -1}, nil
	}
	m, err := makeMovable(fd)
	m.owned = true
	if err != nil {
		m.close()
	}
	return m, err
}

func (m *movable) restore() error {
	if !m.changed {
		return nil
	}
	m.changed = false
	return eintr.Retry(func() error { return unix.Fchmod(m.fd, m.mode) })
}

func (m *movable) close() {
	if m.owned && m.fd >= 0 {
		closeFd(m.fd)
	}
	*m = movable{fd: -1}
}

// cleanup removes whatever Install left in the stage under in.tree (the
// staged tree after a failure, the old tree after the exchange), only while
// the name still refers to what is recorded in in.inStage (S2), and lets
// go of the stage, which the Dir keeps for later. A stage holding something
// that must not be removed is dropped and left as it is.
func (in *installer) cleanup() {
	if in.treeFd >= 0 {
		closeFd(in.treeFd)
	}
	if !in.leaveStage && in.inStage != nil {
		var now unix.Stat_t
		err := eintr.Retry(func() error { return unix.Fstatat(in.stage.Fd, in.tree, &now, unix.AT_SYMLINK_NOFOLLOW) })
		if err == nil && !fallback.Same(&now, in.inStage) {
			err = ErrChanged // cannot happen in our private stage; never remove what we did not record
		}
		if err == nil {
			err = removeTree(in.stage.Fd, in.tree)
		}
		in.leaveStage = err != nil && err != unix.ENOENT
	}
	if in.leaveStage {
		in.d.stages.Drop(in.stage)
		return
	}
	in.d.stages.Release(in.stage)
}

// removeTree removes name in dirfd and everything below it.
func removeTree(dirfd int, name string) error {
	err := unlinkat.RemoveAll(dirfd, name)
	if errors.Is(err, unix.EACCES) {
		// A directory without write permission (a read-only tree, made
		// with Mode(0o555) for instance) cannot be emptied even by its
		// owner: give ourselves permission on the directories we own in
		// it, and try again.
		allowRemoval(dirfd, name)
		err = unlinkat.RemoveAll(dirfd, name)
	}
	return err
}

// allowRemoval adds owner read, write and search permission to the
// directory name in dirfd and every directory below it on the same
// filesystem, never following a symlink. Each directory is changed through
// the descriptor it was opened and checked by, so an entry swapped
// meanwhile is not what gets changed.
func allowRemoval(dirfd int, name string) {
	var pst unix.Stat_t
	if eintr.Retry(func() error { return unix.Fstat(dirfd, &pst) }) != nil {
		return
	}
	allowRemovalOn(dirfd, name, uint64(pst.Dev))
}

func allowRemovalOn(dirfd int, name string, dev uint64) {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if eintr.Retry(func() error { return unix.Fstat(fd, &st) }) != nil || uint64(st.Dev) != dev {
		return
	}
	if st.Mode&0o700 != 0o700 {
		eintr.Retry(func() error { return unix.Fchmod(fd, uint32(st.Mode&0o7777)|0o700) })
	}
	names, _ := f.Readdirnames(-1)
	for _, n := range names {
		var cst unix.Stat_t
		err := eintr.Retry(func() error { return unix.Fstatat(fd, n, &cst, unix.AT_SYMLINK_NOFOLLOW) })
		if err == nil && cst.Mode&unix.S_IFMT == unix.S_IFDIR {
			allowRemovalOn(fd, n, dev)
		}
	}
}
