package capability

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestFeaturesAreReportedInOrderOfAll(t *testing.T) {
	r := Probe()
	var got []Feature
	for _, s := range r.Features() {
		got = append(got, s.Feature)
		if s.Detail == "" {
			t.Errorf("%s has no detail", s.Feature)
		}
		if r.Has(s.Feature) != s.Available || r.Status(s.Feature) != s {
			t.Errorf("%s: Has/Status disagree with Features: %v", s.Feature, s)
		}
		if Has(s.Feature) != s.Available {
			t.Errorf("%s: package Has disagrees with the report", s.Feature)
		}
	}
	if !slices.Equal(got, All()) {
		t.Errorf("Features order %q, want %q", got, All())
	}
	if len(All()) != 14 {
		t.Errorf("%d features, want 14", len(All()))
	}
}

func TestFeatureNamesAreStable(t *testing.T) {
	want := []string{"openat2", "o_path", "o_tmpfile", "link_empty_path", "link_proc_fd",
		"rename_noreplace", "rename_exchange", "rename_whiteout", "close_range_cloexec",
		"fchmodat2", "funlinkat", "renameatx_np", "o_resolve_beneath", "o_nofollow_any"}
	var got []string
	for _, f := range All() {
		got = append(got, string(f))
		if !f.Valid() {
			t.Errorf("%s not Valid", f)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("All() = %q, want %q", got, want)
	}
	if Feature("openat3").Valid() || Feature("").Valid() {
		t.Error("an unknown name is Valid")
	}
}

func TestAllReturnsACopy(t *testing.T) {
	a := All()
	a[0] = "clobbered"
	if All()[0] != Openat2 {
		t.Error("modifying All's result changed the feature list")
	}
	r := Probe()
	fs := r.Features()
	fs[0].Available = !fs[0].Available
	if r.Features()[0] == fs[0] {
		t.Error("modifying Features' result changed the report")
	}
}

func TestPerFilesystemFeatures(t *testing.T) {
	var got []Feature
	for _, f := range All() {
		if f.PerFilesystem() {
			got = append(got, f)
		}
	}
	if want := []Feature{OTmpfile, RenameNoReplace, RenameExchange, RenameWhiteout}; !slices.Equal(got, want) {
		t.Errorf("per-filesystem features %q, want %q", got, want)
	}
}

func TestZeroReportHasNothing(t *testing.T) {
	var r Report
	for _, f := range All() {
		if r.Has(f) {
			t.Errorf("zero Report has %s", f)
		}
	}
	if len(r.Features()) != 0 {
		t.Errorf("zero Report lists features: %v", r.Features())
	}
	if s := Probe().Status("no_such_feature"); s.Available || s.Detail != "unknown feature" {
		t.Errorf("unknown feature: %+v", s)
	}
	if Has("no_such_feature") {
		t.Error("Has of an unknown feature")
	}
}

// Re-executing the test binary: RACEFREE_DISABLE is read once per process.
const envChild = "RACEFREE_CAPABILITY_TEST_CHILD"

type childReport struct {
	Statuses []Status
	Unknown  []string
}

// TestDisableChild runs only in a child started by runChild: it prints
// what the process report says under the child's RACEFREE_DISABLE.
func TestDisableChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("runs only as a child of TestDisable")
	}
	out, err := json.Marshal(childReport{Probe().Features(), UnknownDisabled()})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("\nREPORT " + string(out) + "\n")
}

func runChild(t *testing.T, disable string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDisableChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1", EnvDisable+"="+disable)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child with %s=%q: %v\n%s", EnvDisable, disable, err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
			var r childReport
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("child printed no report:\n%s", out)
	return childReport{}
}

func TestDisable(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		t.Skip("already a child")
	}
	baseline := runChild(t, "")
	if len(baseline.Unknown) != 0 {
		t.Fatalf("empty %s: unknown %q", EnvDisable, baseline.Unknown)
	}
	for _, tc := range []struct {
		value    string
		disabled []Feature
		unknown  []string
	}{
		{"openat2", []Feature{Openat2}, nil},
		{" rename_exchange , o_tmpfile,,", []Feature{RenameExchange, OTmpfile}, nil},
		{"all", All(), nil},
		{"all,bogus", All(), []string{"bogus"}},
		{"Openat2,o_path,renam_noreplace", []Feature{OPath}, []string{"Openat2", "renam_noreplace"}},
		{",", nil, nil},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got := runChild(t, tc.value)
			if !slices.Equal(got.Unknown, tc.unknown) {
				t.Errorf("UnknownDisabled() = %q, want %q", got.Unknown, tc.unknown)
			}
			if len(got.Statuses) != len(baseline.Statuses) {
				t.Fatalf("%d statuses, want %d", len(got.Statuses), len(baseline.Statuses))
			}
			for i, s := range got.Statuses {
				want := baseline.Statuses[i]
				if slices.Contains(tc.disabled, s.Feature) {
					want = Status{Feature: s.Feature, Detail: "disabled by " + EnvDisable}
				}
				if s != want {
					t.Errorf("%s: got %+v, want %+v", s.Feature, s, want)
				}
			}
		})
	}
}
