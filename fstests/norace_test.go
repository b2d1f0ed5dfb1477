//go:build unix && !race

package fstests_test

const raceEnabled = false
