package main

import (
	"errors"

	"github.com/racefree/racefree/dirfd"
)

// linkat has no Windows implementation; dirfd.Open never succeeds there,
// so these are not reached.

func newReplacer(*dirfd.Dir) (linkReplacer, error) { return nil, errors.ErrUnsupported }

func linkAt(*dirfd.Dir, string, *dirfd.Dir, string) error { return errors.ErrUnsupported }
