package main

import (
	"errors"

	"github.com/racefree/racefree/dirfd"
)

// copyTree has no Windows implementation; dirfd.Open never succeeds there,
// so it is not reached.
func copyTree(*dirfd.Dir, *dirfd.Dir, *progress) error { return errors.ErrUnsupported }
