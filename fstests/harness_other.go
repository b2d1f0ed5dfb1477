//go:build !unix

package fstests

import "testing"

// Attacks would run the attack suite; its attackers and victims need a
// unix system, so here it only skips, saying so.
func Attacks(t *testing.T, o Options) {
	t.Helper()
	checkOptions(t, o)
	t.Skip("fstests: the attack suite needs a unix system")
}

// AttackNames lists the attacks of the suite: none on this system.
func AttackNames() []string { return nil }
