package dirfd

// WalkDirFunc is the type of the function WalkDir calls for each entry,
// with fs.WalkDirFunc's contract: path is the entry's name joined to the
// name given to WalkDir (path.Join), err reports a directory that could
// not be opened or read (the function is then called a second time for
// it) or, with a nil e, a name that could not be resolved at all.
// Returning fs.SkipDir skips a directory's contents (or, from a
// non-directory, the rest of its directory), fs.SkipAll ends the walk
// with no error, and any other error ends it with that error.
type WalkDirFunc func(path string, e *Entry, err error) error

// WalkOption configures WalkDir and the tree operations built on it.
type WalkOption func(*walkConfig)

type walkConfig struct {
	crossMounts bool
	progress    func(objects int)
}

// CrossMounts lets a walk enter directories on other mounts (another
// filesystem, or on Linux a bind mount). Without it such a directory is
// reported to the function like any other entry, and its contents are
// not visited, as find -xdev and du -x do. A Dir opened with NoXDev never
// crosses a mount, CrossMounts or not.
func CrossMounts() WalkOption { return func(c *walkConfig) { c.crossMounts = true } }

// TreeProgress has ChownTree and ChmodTree call fn after each object they
// have examined (changed or not), with the count so far, for a display of
// a long job; fn runs on the walking goroutine, and a slow fn slows the
// walk. WalkDir ignores it: its function sees every entry already.
func TreeProgress(fn func(objects int)) WalkOption {
	return func(c *walkConfig) { c.progress = fn }
}

func walkOptions(opts []WalkOption) walkConfig {
	var c walkConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}
