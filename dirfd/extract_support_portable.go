//go:build unix && !linux

package dirfd

import (
	"errors"
	"os"

	"github.com/racefree/racefree/internal/mountid"
)

// unnamedRoute: only Linux has unnamed files that can be linked later, so
// ReplaceFile always stages its file.
func unnamedRoute(int, mountid.ID, error) bool { return false }

// replaceUnnamed is never called where unnamedRoute is false.
func replaceUnnamed(*stageCache, int, string, uint32, string, func(*os.File) error) error {
	return errors.ErrUnsupported
}
