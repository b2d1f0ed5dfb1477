//go:build race

package main

// raceEnabled: the tests run under the race detector, at a fraction of the
// speed, so an attack's naive control that was not caught is a skip there.
const raceEnabled = true
