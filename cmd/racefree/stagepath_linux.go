package main

import (
	"fmt"
	"os"

	"github.com/racefree/racefree/dirfd"
)

// stagePath names the staged tree for a --verify command through our own
// descriptor of it (see runVerify): /proc/PID/fd/N resolves to the
// directory itself, wherever the stage is and whatever its path, for as
// long as we hold N.
func stagePath(stage *dirfd.Dir) string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), stage.Fd())
}
