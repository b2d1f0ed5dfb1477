package dirfd

import "errors"

// mknodat: macOS has no mknodat(2).
func mknodat(int, string, uint32, uint64) error { return errors.ErrUnsupported }
