package capability

import "errors"

// keyOf: nothing is learned per filesystem on Windows.
func keyOf(int) (fsKey, error) { return fsKey{}, errors.ErrUnsupported }
