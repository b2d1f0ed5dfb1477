//go:build unix && !linux

package dirfd

import (
	"errors"

	"github.com/racefree/racefree/internal/staging"
)

// createStaged creates the file under a name in the stage: only Linux has
// unnamed files that can be linked later.
func createStaged(stage *staging.Dir, perm uint32) (int, string, error) {
	return createNamed(stage, perm)
}

// haveSyncfs: without syncfs(2) nothing can make the entry of a directory
// we cannot open for reading durable, so CreateAtomic fails there (EACCES)
// before anything is changed.
const haveSyncfs = false

func (f *AtomicFile) syncFilesystem() error { return errors.ErrUnsupported }
