//go:build !linux

package main

import (
	"path/filepath"

	"github.com/racefree/racefree/dirfd"
)

// stagePath names the staged tree for a --verify command. Without a procfs
// that names a descriptor, it is the stage's path: inside a private
// (mode 0700) staging directory that nobody else can change, so the path
// leads to the tree while Install runs the check.
func stagePath(stage *dirfd.Dir) string {
	if p, err := filepath.Abs(stage.Name()); err == nil {
		return p
	}
	return stage.Name()
}
