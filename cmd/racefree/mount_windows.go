package main

import (
	"errors"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// sameMount is never reached on Windows, where dirfd opens nothing.
func sameMount(*dirfd.Dir, *opath.Handle) (bool, error) { return false, errors.ErrUnsupported }
