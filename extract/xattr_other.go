//go:build !linux

package extract

import (
	"errors"
	"fmt"
	"os"
)

// setXattrs: extended attributes are applied on Linux only.
func setXattrs(f *os.File, xattrs map[string]string) error {
	return fmt.Errorf("extended attributes: %w", errors.ErrUnsupported)
}
