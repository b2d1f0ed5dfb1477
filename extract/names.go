package extract

import (
	"fmt"
	"io/fs"
	"strings"
	"syscall"
)

// errBadName is matched by the errors of names no entry may have.
var errBadName = fmt.Errorf("invalid entry name: %w", fs.ErrInvalid)

// maxName is the longest entry name (or hard link target) taken: PATH_MAX,
// the most a path-based tool could hand the system for it. It also bounds
// how deep one entry can reach, and so the directories one entry makes and
// the work of finding them (thousands of levels cost that work squared).
const maxName = 4096

// localName makes an archive member name (or hard link target) relative to
// dst, as tar does: every leading "/" and "./" is stripped, so "/etc/x",
// "./etc/x" and "etc/x" all name dst/etc/x. Nothing else is rewritten:
// ".." and symlinks are the resolver's to judge, with dst's mode, and
// removing them here by hand would be a second, weaker resolver. The
// result is "" when the name is dst itself.
func localName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", errBadName
	}
	if len(name) > maxName {
		return "", fmt.Errorf("%w: longer than %d bytes: %w", errBadName, maxName, syscall.ENAMETOOLONG)
	}
	for {
		switch {
		case strings.HasPrefix(name, "/"):
			name = name[1:]
		case strings.HasPrefix(name, "./"):
			name = name[2:]
		case name == ".":
			return "", nil
		default:
			return name, nil
		}
	}
}

// splitEntry splits a local name into the directory holding the entry and
// the entry's own name there, trailing slashes dropped. last is "" when the
// name designates a directory by position rather than by an entry ("",
// "a/.", "a/.."): only a directory entry may be such a name, and it then
// means that existing directory, dir.
func splitEntry(name string) (dir, last string) {
	name = strings.TrimRight(name, "/")
	i := strings.LastIndexByte(name, '/')
	dir, last = strings.TrimRight(name[:max(i, 0)], "/"), name[i+1:]
	if last == "." || last == ".." {
		return name, ""
	}
	return dir, last
}

// joinEntry is the inverse of splitEntry, for the keys of the directory
// cache.
func joinEntry(dir, last string) string {
	if dir == "" {
		return last
	}
	return dir + "/" + last
}

// whiteoutPrefix marks OCI whiteouts, and opaqueWhiteout is the one that
// empties its directory.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// errBadWhiteout refuses a whiteout that names no entry.
var errBadWhiteout = fmt.Errorf("whiteout names no entry: %w", fs.ErrInvalid)
