//go:build !unix

package fstests

import "testing"

func conformance(t *testing.T, _ string, _ ...string) {
	t.Skip("fstests: the conformance suite needs a unix system; dirfd returns errors.ErrUnsupported here")
}
