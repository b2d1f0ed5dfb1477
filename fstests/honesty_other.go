//go:build unix && !linux

package fstests

import "github.com/racefree/racefree/capability"

// processTrials: the kernel trials of the process report are written for
// Linux; elsewhere the report is checked against the filesystem's
// behaviour by the rest of the suite only.
var processTrials []struct {
	feature capability.Feature
	try     func(dir int) error
}
