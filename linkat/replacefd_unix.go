//go:build unix

package linkat

import "github.com/racefree/racefree/fallback"

// ReplaceLinkFd makes name in dirfd a hard link to the object fd refers to
// (an O_PATH descriptor, an O_TMPFILE file, any open file: see LinkFd),
// atomically replacing whatever non-directory is at name, as ReplaceLink
// does for an object given by name: the object is linked into a private
// stage in dirfd with LinkFd and renamed over name, so every reader sees
// the old object or fd's, never a missing name (G2), and the object linked
// is fd's whatever its names have become meanwhile.
//
// Errors are LinkFd's (EPERM for a directory, ENOENT for an object that
// lost its last name, EXDEV across filesystems, errors.ErrUnsupported
// without a route) and ReplaceLink's for name (EISDIR for a directory).
// When name already is a link to fd's object nothing changes and nothing
// is left behind.
//
// Cost: as ReplaceLink, on the AT_EMPTY_PATH route.
func ReplaceLinkFd(fd int, dirfd int, name string) error {
	return ReplaceLinkFdIn(nil, fd, dirfd, name)
}

// ReplaceLinkFdIn is ReplaceLinkFd with the stage that stages keeps for
// dirfd, made on first need (see fallback.Stages).
func ReplaceLinkFdIn(stages *fallback.Stages, fd int, dirfd int, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return publish(stages, dirfd, name, true, func(stage int, staged string) error { return LinkFd(fd, stage, staged) })
}
