package dirfd

// CopyOption configures CopyTree.
type CopyOption func(*copyConfig)

type copyConfig struct {
	special  bool
	prev     *Dir
	into     bool
	progress func(files int, bytes int64)
}

// CopySpecial lets CopyTree copy FIFOs, sockets and device nodes (devices
// need privilege). Without it they are refused: a tree to copy rarely has
// a use for them, and copying a device node by mistake is worse than an
// error naming it.
func CopySpecial() CopyOption { return func(c *copyConfig) { c.special = true } }

// LinkUnchanged makes CopyTree hard-link a regular file from prev instead
// of copying it when the file at the same path relative to prev (prev's
// own top being the copy's top) has the same size, mode, owner, group and
// modification time: the "only copy what changed" of an incremental
// install, where prev is the tree installed now. Such files share their
// inode with prev's: a later change to one in place shows in both (an
// install replaces files, it does not change them in place). Where
// linking fails (prev on another filesystem), the file is copied.
func LinkUnchanged(prev *Dir) CopyOption { return func(c *copyConfig) { c.prev = prev } }

// CopyInto makes CopyTree copy the contents of srcName's directory into
// dstName, which must be an existing directory (a stage of Install, say),
// as cp -a SRC/. DST does: dstName gets srcName's owner (when root) and
// times, and keeps its own mode.
func CopyInto() CopyOption { return func(c *copyConfig) { c.into = true } }

// CopyProgress has CopyTree call fn after each object it copies, with the
// objects and bytes copied so far, from the goroutine that called it.
func CopyProgress(fn func(files int, bytes int64)) CopyOption {
	return func(c *copyConfig) { c.progress = fn }
}
