package renameat2

import "github.com/racefree/racefree/fallback"

// Rename is not supported on Windows.
func Rename(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	return unsupported("renameat2 is not available on Windows")
}

// RenameIfSame is not supported on Windows.
func RenameIfSame(olddirfd int, oldname string, fd int, newdirfd int, newname string, flags Flags) (fallback.Method, error) {
	return fallback.None, unsupported("renameat2 is not available on Windows")
}
