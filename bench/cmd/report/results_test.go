//go:build linux

package main

import (
	"math"
	"testing"
)

// TestSpeedUpNeedsSignificance: a speed-up target is met only when the
// ratio reaches it and the p-value supports it (RESULTS.md once counted
// 1.04× at p = 0.34 as met).
func TestSpeedUpNeedsSignificance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reached bool
		p       float64
		met     bool
		verdict string
	}{
		{"reached and significant", true, 0.03, true, ""},
		{"reached at the 0.05 bound", true, 0.05, true, ""},
		{"reached within noise", true, 0.34, false, "**within noise**"},
		{"reached, no p-value", true, math.NaN(), false, "**within noise**"},
		{"not reached, significant", false, 0.03, false, ""},
		{"not reached, noise", false, 0.34, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			met, verdict := speedUp(tc.reached, tc.p)
			if met != tc.met || verdict != tc.verdict {
				t.Errorf("speedUp(%v, %v) = %v, %q, want %v, %q", tc.reached, tc.p, met, verdict, tc.met, tc.verdict)
			}
		})
	}
}
