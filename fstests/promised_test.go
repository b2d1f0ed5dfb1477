//go:build unix

package fstests_test

import (
	"strings"
	"testing"

	"github.com/racefree/racefree/fstests"
	"github.com/racefree/racefree/internal/reexec"
)

// TestPromisedCellsMustRun: CI's proof run names the cells it promises
// (RACEFREE_MATRIX_REQUIRE), and a promised cell without a passing
// conformance suite and a racefree attack side, or a full-budget ext4 cell
// that ran with a reduced budget, fails the matrix rather than leaving its
// row out of the table.
func TestPromisedCellsMustRun(t *testing.T) {
	// cell is what a cell that ran writes.
	cell := func(profile string, uid int, fs string, full bool, verdict string) []record {
		return []record{
			{Profile: profile, UID: uid, FS: fs, Suite: "conformance", Verdict: verdict, Full: full},
			{Profile: profile, UID: uid, FS: fs, Suite: "exchange-abs", Side: string(fstests.Racefree), Ops: 10, Full: full},
		}
	}
	every := func(fs string, skip cellKey, verdict string) []record {
		var recs []record
		for _, p := range profiles {
			for _, uid := range []int{0, reexec.NobodyID} {
				if (cellKey{p, uid, fs}) != skip {
					recs = append(recs, cell(p, uid, fs, false, verdict)...)
				}
			}
		}
		return recs
	}
	fullExt4 := cell("", 0, "ext4", true, "pass")
	none := cellKey{}
	for _, tc := range []struct {
		name     string
		recs     []record
		promised string
		missing  string // in the error; "" for none
	}{
		{"nothing promised", nil, "", ""},
		{"every cell ran", every("tmpfs", none, "pass"), "tmpfs", ""},
		{"a filesystem never ran", every("tmpfs", none, "pass"), "tmpfs,xfs", "full/uid 0/xfs"},
		{"one uid's cell is missing", every("tmpfs", cellKey{"openat2", reexec.NobodyID, "tmpfs"}, "pass"), "tmpfs", "no-openat2/uid 65534/tmpfs"},
		{"skipped conformance is no run", every("tmpfs", none, "skip"), "tmpfs", "full/uid 0/tmpfs"},
		{"the full-budget cell ran", fullExt4, "full-ext4", ""},
		{"the ext4 cell ran with a reduced budget", cell("", 0, "ext4", false, "pass"), "full-ext4", "full-budget ext4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPromised(tc.recs, tc.promised)
			switch {
			case tc.missing == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.missing != "" && (err == nil || !strings.Contains(err.Error(), tc.missing)):
				t.Errorf("error %v, want one naming %q", err, tc.missing)
			}
		})
	}
}
