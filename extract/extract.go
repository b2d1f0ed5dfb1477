// Package extract unpacks tar and zip archives into a dirfd.Dir, and stays
// inside it whatever the archive holds and whatever another user changes
// in the destination meanwhile.
//
// Extraction is where path races and hostile archives meet: zip-slip
// ("../../etc/cron.d/x"), a symlink entry followed by a file written
// through it, hard links to /etc/shadow, OCI whiteouts that climb out,
// a destination directory swapped for a symlink while the extractor works
// (the docker cp class). Extractors that join names to a path and then act
// on that path lose to all of them, archive/tar's and archive/zip's name
// checks included, because the check and the use are two lookups. Here
// every entry is resolved once, inside dst, by dst's own resolver, and
// acted on through descriptors:
//
//   - A leading "/" or "./" is stripped, as tar does; a name that would
//     still leave dst (through "..", or through a symlink, whether the
//     archive made it or it was there before) fails with an error matching
//     dirfd.ErrEscape in a Beneath Dir, and is kept inside in an InRoot Dir
//     (a container's rootfs), as the container would resolve it.
//   - The final component of an entry is never followed: what is at the
//     name is replaced (a regular file by a file written in private and
//     linked in complete, a symlink by a symlink, atomically), never
//     written through. An existing directory is kept for a directory entry
//     and is an error for any other.
//   - A hard link's target is resolved inside dst like a name, must be a
//     non-directory, and is linked by handle (on Linux): the object linked
//     is the one checked.
//   - Directories are created private (0700) and get the archive's mode,
//     times and owner after their children, so a 0555 directory can be
//     filled, and nobody else can enter one before its mode is final;
//     missing parents of an entry are made with 0755 less the umask, as tar
//     makes them.
//   - By default the caller owns everything, set-user-ID and set-group-ID
//     bits are stripped, devices and FIFOs are skipped, extended attributes
//     and whiteouts are ignored (extracted as plain files): each is an
//     Option. Set-ID bits are kept only where the archive's owner is (DESIGN
//     S7: Owners and SetID together), as cp -a keeps them.
//
// Extraction streams: one entry at a time, nothing held in memory but the
// current buffer. It stops at the first error and leaves in dst what it had
// made, each file complete or absent, never half-written under its name.
// For all-or-nothing extraction, extract inside dirfd.Dir.Install:
//
//	err := dst.Install("app", func(stage *dirfd.Dir) error {
//		_, err := extract.Tar(stage, r)
//		return err
//	})
//
// An error there leaves "app" as it was (absent, or the old tree), and the
// new tree appears all at once, flushed, when the archive was extracted
// whole. Outside Install nothing is flushed: files are atomic, not durable.
package extract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Stats counts what an extraction did.
type Stats struct {
	Files     int   // regular files written
	Dirs      int   // directory entries (created, or kept when they existed)
	Symlinks  int   // symlinks made
	Hardlinks int   // hard links made
	Nodes     int   // device nodes and FIFOs made (Devices)
	Whiteouts int   // whiteout entries applied (Whiteouts)
	Skipped   int   // entries not extracted: devices and FIFOs without Devices, types extraction does not make
	Bytes     int64 // content bytes of the regular files written
}

// ErrLimit is matched (errors.Is) by the error of an extraction stopped by
// Limits. Nothing past the limit was written.
var ErrLimit = errors.New("archive exceeds the extraction limit")

// Option configures an extraction. The defaults are the safe choice for an
// archive from someone else.
type Option func(*config)

type config struct {
	owners, setID, devices, xattrs, whiteouts bool
	maxFiles                                  int
	maxBytes                                  int64
	progress                                  func(Stats)
}

// Owners applies the archive's numeric user and group IDs (tar's
// --same-owner --numeric-owner), which needs privilege; by default the
// caller owns everything. Zip archives carry no owners.
func Owners() Option { return func(c *config) { c.owners = true } }

// SetID keeps set-user-ID and set-group-ID bits, of files and directories,
// where Owners also gave the object the archive's owner and group: a
// set-ID bit on an object the caller owns instead would lend the caller's
// identity to whoever runs it. Without both they are stripped.
func SetID() Option { return func(c *config) { c.setID = true } }

// Devices creates character and block devices (which needs privilege) and
// FIFOs; by default they are skipped and counted in Stats.Skipped.
func Devices() Option { return func(c *config) { c.devices = true } }

// Xattrs applies the extended attributes that PAX records carry
// ("SCHILY.xattr." records) to regular files (before they get their name,
// so a file never appears without them) and directories; by default they
// are ignored. A file capability (security.capability) confers privilege
// as a set-user-ID bit does, and is kept only where set-ID bits are: with
// SetID and Owners, on an object that got the archive's owner (S7). Linux only: elsewhere an
// entry with extended attributes fails with an error wrapping
// errors.ErrUnsupported.
func Xattrs() Option { return func(c *config) { c.xattrs = true } }

// Whiteouts gives an archive OCI image layer semantics: an entry
// ".wh.NAME" removes NAME (a whole tree, never following a symlink) from
// its directory, and ".wh..wh..opq" removes everything in its directory
// that this archive did not put there; whiteouts are not extracted
// themselves, and, as the OCI specification says, never remove what the
// same archive made. The names are resolved like any other entry's, so a
// whiteout cannot remove anything outside dst. This is the one place an
// extraction deletes what it finds in a directory, and it does so only
// when asked.
func Whiteouts() Option { return func(c *config) { c.whiteouts = true } }

// Limits stops an extraction with an error matching ErrLimit before the
// entry that would make it hold more than files entries (of any kind,
// counting the missing parent directories an entry's name makes, so that
// one entry a thousand levels deep is a thousand) or more than bytes bytes
// of file content; zero or less means no limit for
// that one. A file whose declared size would pass the limit is refused
// before anything of it is written, and no file's content can run past its
// declared size (the readers of both formats fail there), so nothing
// beyond the limit reaches the disk.
func Limits(files int, bytes int64) Option {
	return func(c *config) { c.maxFiles, c.maxBytes = files, bytes }
}

// Progress calls f with the counts so far after every entry.
func Progress(f func(Stats)) Option { return func(c *config) { c.progress = f } }

// kind is what an entry makes.
type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
	kindHardlink
	kindNode // device or FIFO
	kindSkip // a type extraction does not make
)

// entry is one archive member, whichever the format.
type entry struct {
	name         string      // as in the archive, for errors
	kind         kind        //
	mode         fs.FileMode // permission, set-ID and sticky bits; type bits for nodes
	linkname     string      // symlink target, or hard link target as in the archive
	size         int64       // declared content size of a file
	uid, gid     int
	hasOwner     bool      // uid and gid come from the archive (zip has none)
	atime, mtime time.Time // zero: leave as created
	major, minor uint32
	xattrs       map[string]string
	// write copies the content into f and returns how many bytes the
	// file now holds: size, which the format's reader enforces.
	write func(f *os.File) (int64, error)
}

// entryError names the entry and says why, once: the Dir's own wrapping
// (which names the call and a name relative to some directory) is dropped
// for the archive's name.
func entryError(e *entry, op string, err error) error {
	if op != "" {
		op = " " + op
	}
	return &fs.PathError{Op: "extract" + op, Path: e.name, Err: unwrapOne(err)}
}

// limitError is the ErrLimit of an entry.
func limitError(e *entry, format string, args ...any) error {
	return &fs.PathError{Op: "extract", Path: e.name, Err: fmt.Errorf("%w: "+format, append([]any{ErrLimit}, args...)...)}
}
