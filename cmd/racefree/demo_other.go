//go:build !linux

package main

import (
	"errors"
	"fmt"
	"time"
)

// demoAttack needs renameat2(RENAME_EXCHANGE), which only Linux offers.
func demoAttack(time.Duration) (demoReport, error) {
	return demoReport{}, fmt.Errorf("the demo needs renameat2(RENAME_EXCHANGE), which only Linux offers: %w", errors.ErrUnsupported)
}
