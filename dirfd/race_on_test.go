//go:build race

package dirfd_test

// raceEnabled: the binary runs under the race detector, at a fraction of
// the speed, so attack budgets shrink and an uncaught control is a skip.
const raceEnabled = true
