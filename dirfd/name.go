package dirfd

import (
	"strings"
	"syscall"
)

const (
	// maxNameLen is PATH_MAX: the kernel refuses longer names with
	// ENAMETOOLONG, and the component walk does the same up front so that
	// both resolvers agree.
	maxNameLen = 4096
	// maxSymlinks is the kernel's limit on symlinks in one lookup (ELOOP).
	maxSymlinks = 40
)

// checkName rejects names no lookup should see.
func checkName(name string) error {
	switch {
	case name == "":
		return errEmptyName
	case strings.IndexByte(name, 0) >= 0:
		return errNulByte
	case len(name) >= maxNameLen:
		return syscall.ENAMETOOLONG
	}
	return nil
}

// splitLast splits name into the directory that holds its last component
// and that component, for operations on a directory entry (mkdir, unlink,
// rename, link, symlink). The trailing slash, if any, stays on last: those
// system calls give it the kernel's meaning without following a symlink.
// A last component of "." or ".." names a directory rather than an entry,
// so the whole name becomes dir and last becomes ".", which every entry
// operation refuses as the kernel does (EEXIST, EINVAL, EBUSY).
func splitLast(name string) (dir, last string) {
	trimmed := strings.TrimRight(name, "/")
	if trimmed == "" { // "/" or "///"
		return "/", "."
	}
	i := strings.LastIndexByte(trimmed, '/')
	base := trimmed[i+1:]
	if base == "." || base == ".." {
		return trimmed, "."
	}
	last = name[i+1:]
	switch {
	case i < 0:
		return "", last
	case strings.TrimRight(trimmed[:i], "/") == "":
		return "/", last
	}
	return trimmed[:i], last
}

// components splits name for the component walk. Empty and "." components
// are dropped; ".." is kept for the walk to apply. abs reports a leading
// slash, slash a trailing one (which requires a directory and follows a
// final symlink, as in the kernel).
func components(name string) (parts []string, abs, slash bool) {
	abs = strings.HasPrefix(name, "/")
	slash = strings.HasSuffix(name, "/") || strings.HasSuffix(name, "/.") || name == "."
	for p := range strings.SplitSeq(name, "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	return parts, abs, slash
}
