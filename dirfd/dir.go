// Package dirfd provides Dir, a handle on a directory through which every
// operation stays inside the tree below it, whatever an attacker does to that
// tree meanwhile (guarantee G1 of DESIGN.md).
//
// Dir mirrors os.Root: the same methods with the same semantics, so code can
// switch by renaming the type. It adds what os.Root lacks: exported
// ErrEscape, a chroot-like InRoot mode, NoSymlinks and NoXDev, OpenFile that
// honours O_NOFOLLOW on the final component, handles (OpenHandle) for
// identity-pinned work, and a capability report.
//
// How a name is resolved: on Linux with openat2 (5.6 and later), one
// openat2 call with RESOLVE_BENEATH or RESOLVE_IN_ROOT, plus
// RESOLVE_NO_MAGICLINKS always and RESOLVE_NO_SYMLINKS / RESOLVE_NO_XDEV as
// asked: the kernel does the whole walk atomically with respect to the
// checks. Without openat2, and on other systems, racefree walks one component
// at a time from descriptors it holds, opening each with O_NOFOLLOW
// (O_PATH on Linux, so directories need search but not read permission),
// splicing symlink targets into the remaining path itself, and applying ".."
// to the components already resolved and restarting from the root
// descriptor, never by opening "..". Both give the same containment.
package dirfd

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/mountid"
)

// ErrEscape is matched (errors.Is) by every error caused by a name that
// would leave the tree: "..", an absolute name or an absolute symlink in
// Beneath mode, a symlink whose target climbs out, or, with NoXDev, a mount
// point.
var ErrEscape = errors.New("path escapes from the directory")

// errCrossesMount is ErrEscape as NoXDev reports it when racefree itself saw
// the mount point (the component walk); openat2 does not say which of the
// two it was.
var errCrossesMount = fmt.Errorf("%w: crosses a mount point (NoXDev)", ErrEscape)

// ErrChanged is matched by errors from operations on "the object I opened"
// that found the name referring to a different object: nothing was done to
// the object that is there now (guarantee G3). It is fallback.ErrChanged,
// so errors from the descriptor-level packages (unlinkat, renameat2) match
// it too.
var ErrChanged = fallback.ErrChanged

// Option configures Open and FromFile.
type Option func(*config)

type resolveMode uint8

const (
	modeBeneath resolveMode = iota
	modeInRoot
)

type config struct {
	mode       resolveMode
	noSymlinks bool
	noXDev     bool
	strict     bool
}

// Beneath is the default mode: symlinks and ".." are followed while they stay
// inside the tree; a name, "..", or symlink that would leave it fails with
// ErrEscape, and so does an absolute name or absolute symlink target.
func Beneath() Option { return func(c *config) { c.mode = modeBeneath } }

// InRoot makes the Dir behave like a chroot: ".." at the top stays at the
// top, and absolute names and absolute symlink targets start at the top.
// Use it to resolve paths as a process inside a container would see them.
func InRoot() Option { return func(c *config) { c.mode = modeInRoot } }

// NoSymlinks refuses any symlink met while resolving a name (ELOOP),
// including a final one that would be followed. It combines with Beneath or
// InRoot.
func NoSymlinks() Option { return func(c *config) { c.noSymlinks = true } }

// NoXDev refuses to cross a mount point while resolving (ErrEscape), in
// either direction, including bind mounts of the same filesystem.
func NoXDev() Option { return func(c *config) { c.noXDev = true } }

// Strict makes operations fail with an error wrapping errors.ErrUnsupported
// where the platform lacks the primitive that gives a guarantee atomically
// and only an emulation would be left (G6). Name resolution is not affected:
// the component walk gives the same containment as openat2.
func Strict() Option { return func(c *config) { c.strict = true } }

// Dir is an open directory that operations are confined to. It is safe for
// concurrent use; Close may be called while other goroutines are using it,
// and their operations then either complete or fail with fs.ErrClosed.
type Dir struct {
	name string
	ref  *fdRef
	cfg  config
	dev  uint64 // device of the directory: NoXDev checks and per-filesystem capabilities
	sys  sysState
	// stages are the private directories d has made in the directories it
	// wrote into, kept until Close (DESIGN.md S3; see fallback.Stages).
	stages  *stageCache
	cleanup runtime.Cleanup
	// mount is the directory's mount, looked up once when first needed
	// (an open directory never changes mounts).
	mount struct {
		once sync.Once
		id   mountid.ID
		err  error
	}
}

// mountOf is the mount of fd: d's own, looked up once, or any other
// directory's, looked up now.
func (d *Dir) mountOf(fd int) (mountid.ID, error) {
	if fd != d.ref.fd {
		return mountid.Of(fd)
	}
	d.mount.once.Do(func() { d.mount.id, d.mount.err = mountid.Of(fd) })
	return d.mount.id, d.mount.err
}

// Name returns the name given to Open, or the name of the file given to
// FromFile.
func (d *Dir) Name() string { return d.name }

// Fd returns the directory's descriptor. It remains owned by d: it becomes
// invalid when d is closed.
func (d *Dir) Fd() uintptr { return uintptr(d.ref.fd) }

// Close closes the directory. Operations already running finish first; the
// descriptor is released when the last of them returns. Closing twice
// returns fs.ErrClosed.
//
// Close also removes the private staging directories d keeps next to the
// names it replaced (one per directory, see RemoveStale), once the last
// operation or AtomicFile using each is done with it. One that cannot be
// removed (an operation could not remove what it staged there) is left
// for RemoveStale, and Close reports it.
func (d *Dir) Close() error {
	d.cleanup.Stop()
	if err := d.ref.close(); err != nil {
		return &fs.PathError{Op: "close", Path: d.name, Err: err}
	}
	if err := d.stages.Close(); err != nil {
		return &fs.PathError{Op: "close", Path: d.name, Err: err}
	}
	return nil
}

func newDir(name string, fd int, dev uint64, cfg config) *Dir {
	d := &Dir{name: name, ref: &fdRef{fd: fd}, cfg: cfg, dev: dev, stages: new(stageCache)}
	d.stages.SetHome(fd)
	d.sys = newSysState(cfg)
	// A safety net only: a Dir that is dropped without Close must not leak
	// its descriptor or its stages. Close stops it, so a reused descriptor
	// number is never closed by mistake.
	type owned struct {
		ref    *fdRef
		stages *stageCache
	}
	d.cleanup = runtime.AddCleanup(d, func(o owned) {
		o.ref.close()
		o.stages.Close()
	}, owned{d.ref, d.stages})
	return d
}

// fdRef counts the operations using a descriptor so that Close never pulls
// it out from under one (which could make the operation act on whatever
// the number is reused for). state is refs<<1 | closedBit.
type fdRef struct {
	fd    int
	state atomic.Uint64
}

const closedBit = 1

func (r *fdRef) incref() error {
	for {
		s := r.state.Load()
		if s&closedBit != 0 {
			return fs.ErrClosed
		}
		if r.state.CompareAndSwap(s, s+2) {
			return nil
		}
	}
}

func (r *fdRef) decref() {
	if r.state.Add(^uint64(1)) == closedBit { // subtract 2: last user after close
		closeFd(r.fd)
	}
}

func (r *fdRef) close() error {
	old := r.state.Or(closedBit)
	if old&closedBit != 0 {
		return fs.ErrClosed
	}
	if old == 0 {
		return closeFd(r.fd)
	}
	return nil
}

// pathErr wraps err once, at the API edge, naming the failing call.
func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == name {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Errors for names that are malformed before any lookup.
var (
	errEmptyName = fmt.Errorf("empty name: %w", fs.ErrInvalid)
	errNulByte   = fmt.Errorf("name contains a NUL byte: %w", fs.ErrInvalid)
)
