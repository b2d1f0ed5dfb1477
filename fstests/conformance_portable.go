//go:build unix && !linux

package fstests

import "github.com/racefree/racefree/capability"

// unnamedStaging: only Linux has unnamed files that can be named later, so
// CreateAtomic always stages its file under a name.
func unnamedStaging(capability.Report) bool { return false }

// kernelTrials: the per-filesystem features are Linux's.
var kernelTrials []struct {
	feature capability.Feature
	try     func(dir int) error
}
