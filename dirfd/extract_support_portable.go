//go:build unix && !linux

package dirfd

import (
	"errors"
	"os"
)

// unnamedRoute: only Linux has unnamed files that can be linked later, so
// ReplaceFile always stages its file.
func unnamedRoute(int) bool { return false }

// replaceUnnamed is never called where unnamedRoute is false.
func replaceUnnamed(*stageCache, int, string, uint32, string, func(*os.File) error) error {
	return errors.ErrUnsupported
}
