//go:build unix && !linux

package dirfd_test

import "testing"

// kernelLookup has no kernel resolver to ask on this system: only Linux
// has openat2.
func kernelLookup(testing.TB, string, string, int, bool, bool) ([2]uint64, bool, error) {
	return [2]uint64{}, false, nil
}

// kernelFlags has nothing to map without openat2.
var kernelFlags = map[string]int{}
