//go:build unix

package main

import (
	"os"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/reexec"
)

// builtByParent returns the command built by the test process that
// re-ran this one as uid 65534.
func builtByParent() (string, bool) {
	bin := os.Getenv(binaryEnv)
	return bin, bin != "" && reexec.IsChild()
}

// rerunAsNobody runs the tests again as uid 65534 when running as root
// and returns how many re-runs failed. The capability profiles are
// covered by TestCommandsWithoutPrimitives; only the user changes.
func rerunAsNobody() int {
	if !reexec.Wanted() {
		return 0
	}
	children := reexec.Children([]string{os.Getenv(capability.EnvDisable)})
	for _, c := range children {
		c.Env = append(c.Env, binaryEnv+"="+binary)
	}
	return reexec.Start(children)()
}
