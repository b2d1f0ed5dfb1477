//go:build !race

package dirfd_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
