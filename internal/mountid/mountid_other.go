//go:build !unix

package mountid

import "errors"

// Of is not supported on this system.
func Of(int) (ID, error) { return ID{}, errors.ErrUnsupported }

// At is not supported on this system.
func At(int, string) (ID, error) { return ID{}, errors.ErrUnsupported }
