package dirfd

import "io/fs"

// InstallOption configures Install.
type InstallOption func(*installConfig)

type installConfig struct {
	verify  []func(stage *Dir) error
	mode    fs.FileMode
	setMode bool
	keep    string
	keepSet bool // KeepPrevious was given, even with an empty name
	result  *InstallResult
}

// Verify adds a check that Install runs on the staged tree after build has
// returned and the top directory's mode is set, before the tree is flushed
// and published. An error from it abandons the install: the staged tree is
// removed and the name keeps its old tree. Several Verify options run in
// the order given.
func Verify(check func(stage *Dir) error) InstallOption {
	return func(c *installConfig) { c.verify = append(c.verify, check) }
}

// Mode sets the permission bits (with setuid, setgid and sticky) of the
// installed tree's top directory to exactly mode, without the umask, as
// Chmod does. It is applied after build, so a read-only mode such as 0555
// does not stop build from filling the directory. Without Mode the top
// directory is created with 0755 less the umask, as Mkdir would.
func Mode(mode fs.FileMode) InstallOption {
	return func(c *installConfig) { c.mode, c.setMode = mode, true }
}

// KeepPrevious keeps the tree that Install replaces under prev instead of
// removing it, so that a roll-back is one more atomic step: Exchange(name,
// prev) in LayoutDirect, Rename(prev, name) in LayoutVersioned, where prev
// is a symlink to the previous version, valid until a later Install prunes
// that version. prev is a name relative to the Dir like name and must be
// in the same directory as name. Whatever prev held before is replaced
// atomically and removed. When name was new there is nothing to keep and
// prev is left alone.
func KeepPrevious(prev string) InstallOption {
	return func(c *installConfig) { c.keep, c.keepSet = prev, true }
}

// Result makes a successful Install fill r with how it published the tree.
func Result(r *InstallResult) InstallOption {
	return func(c *installConfig) { c.result = r }
}

// Layout says how Install publishes a tree under its name.
type Layout uint8

const (
	// LayoutDirect: the name is the tree's directory itself. A new name is
	// published with one renameat2(RENAME_NOREPLACE) (a plain rename(2) on
	// a filesystem without it), a replacement with one
	// renameat2(RENAME_EXCHANGE) (macOS renameatx_np(RENAME_SWAP)).
	LayoutDirect Layout = iota + 1
	// LayoutVersioned is the fallback for filesystems without an atomic
	// exchange: each tree is a directory NAME.versions/ID (see
	// VersionsSuffix) and NAME is a symlink to it, replaced atomically by
	// renaming a new symlink over it. Readers that resolve NAME see the
	// whole old or the whole new tree; but NAME is a symlink, so a reader
	// that refuses symlinks (O_NOFOLLOW, NoSymlinks) cannot use it, and
	// ".." inside the tree is NAME.versions. A Strict Dir refuses it.
	LayoutVersioned
)

// String returns "direct" or "versioned".
func (l Layout) String() string {
	switch l {
	case LayoutDirect:
		return "direct"
	case LayoutVersioned:
		return "versioned"
	}
	return "unknown"
}

// VersionsSuffix is appended to a name to form the directory that holds its
// trees in LayoutVersioned.
const VersionsSuffix = ".versions"

// InstallResult describes a successful Install.
type InstallResult struct {
	// Layout is how the tree was published.
	Layout Layout
	// Version is the tree's directory under NAME.versions in
	// LayoutVersioned, and empty in LayoutDirect.
	Version string
	// Replaced is true when the name held a tree before, false when it
	// was new.
	Replaced bool
}
