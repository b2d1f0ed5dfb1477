//go:build !race

package fstests_test

const raceEnabled = false
