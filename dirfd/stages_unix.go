//go:build unix

package dirfd

import "github.com/racefree/racefree/fallback"

// stageCache is what a Dir keeps its private directories in.
type stageCache = fallback.Stages
