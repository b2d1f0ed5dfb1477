//go:build unix && !linux && !darwin

package opath

import "errors"

// fdPath has no kernel interface on these systems.
func fdPath(int) (string, error) { return "", errors.ErrUnsupported }
