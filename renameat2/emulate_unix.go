//go:build unix && !darwin

package renameat2

import "github.com/racefree/racefree/fallback"

// emulate stands in for a flag the platform lacks.
func emulate(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	switch {
	case flags&Exchange != 0:
		return unsupported("atomic exchange is not available on this filesystem")
	case flags&Whiteout != 0:
		return unsupported("whiteouts are not available on this filesystem")
	case flags&Strict != 0:
		return unsupported("no-replace rename is not available on this filesystem and Strict forbids link+unlink")
	}
	return fallback.LinkUnlink(olddirfd, oldname, newdirfd, newname)
}
