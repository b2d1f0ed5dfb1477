//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// modeSpecs are the chmod(1) modes the conformance test compares; each
// one is applied to every starting mode below, on a file and on a
// directory, both by coreutils' chmod and by modeSpec.apply.
var modeSpecs = []string{
	// Numeric, with and without set-ID bits, short and long.
	"0", "644", "755", "0755", "00755", "000755", "4755", "2775", "1777", "7777", "06755", "600",
	// Classes and operators.
	"u+x", "u-x", "u=rwx", "g+w", "g-w", "o-rwx", "o=", "a=r", "a+rwx", "a-rwx", "ug=rw", "go=", "uo+r",
	// No class: the umask decides.
	"+x", "-w", "=", "=rw", "+rwx", "-x", "=r", "+w",
	// X: execute only for directories and what is executable already.
	"+X", "a+X", "g+rwX", "u=rwX,go=rX", "o-X", "=X", "ug+X,o=",
	// Set-ID and sticky.
	"u+s", "g+s", "ug+s", "a-s", "+s", "-s", "+t", "o+t", "-t", "o=t", "u=s", "g=s", "a+st", "u-s,g-s", "=st",
	// Copying a class.
	"g=u", "o=g", "go=u", "u=o", "g+u", "o-u", "g=u-w", "o=u+t",
	// Several operators and clauses.
	"u=rwx,g=rx,o=", "u+x,g-w,o=r", "a=,u+r", "u=rw=r", "o=-w", "ug=rw,o=r,+X", "a-rwx,u+r,a+X",
	// An octal number after an operator.
	"+111", "-022", "=640", "+4000",
}

// invalidModeSpecs are modes chmod(1) refuses.
var invalidModeSpecs = []string{
	"", "8", "u", "u+z", ",u+x", "u+x,", "u+7", "x", "17777", "u=rwx,", "ugx+r", "+755x", "a+rw,x", "u+644",
}

// startModes are the modes the specs start from.
var startModes = []uint32{0o644, 0o755, 0o600, 0o000, 0o4755, 0o2775, 0o1777, 0o7777, 0o711, 0o2644}

// TestModeSpecMatchesCoreutils applies every mode in modeSpecs to files and
// directories of every starting mode with coreutils' chmod on real files
// (under umask 022), and checks that modeSpec.apply computes the very same
// permission bits.
func TestModeSpecMatchesCoreutils(t *testing.T) {
	if _, err := exec.LookPath("chmod"); err != nil {
		t.Skip("no chmod to compare with")
	}
	const umask = 0o022
	tmp := t.TempDir()
	var script strings.Builder
	fmt.Fprintf(&script, "umask %03o\n", umask)
	path := func(spec int, dir bool, start uint32) string {
		return filepath.Join(tmp, fmt.Sprintf("%d-%v-%04o", spec, dir, start))
	}
	for i, s := range modeSpecs {
		fmt.Fprintf(&script, "chmod -- '%s'", s)
		for _, dir := range []bool{false, true} {
			for _, start := range startModes {
				makeObject(t, path(i, dir, start), dir, start)
				fmt.Fprintf(&script, " %s", path(i, dir, start))
			}
		}
		// Exit status 1 with a "new permissions are" note still applies
		// the mode; only the modes are compared.
		script.WriteString(" 2>/dev/null\n")
	}
	// A script file, not sh -c: one argument may not exceed 128 KiB.
	script.WriteString("exit 0\n")
	scriptFile := filepath.Join(t.TempDir(), "chmod.sh")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", scriptFile).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v: %s", err, out)
	}
	for i, s := range modeSpecs {
		spec, err := parseModeSpec(s)
		if err != nil {
			t.Errorf("parseModeSpec(%q): %v", s, err)
			continue
		}
		for _, dir := range []bool{false, true} {
			for _, start := range startModes {
				fi, err := os.Lstat(path(i, dir, start))
				if err != nil {
					t.Fatal(err)
				}
				want := permBits(fi.Mode())
				if got := spec.apply(start, dir, umask); got != want {
					t.Errorf("chmod %s on a %s of mode %04o: got %04o, coreutils %04o", s, map[bool]string{false: "file", true: "directory"}[dir], start, got, want)
				}
			}
		}
	}
}

// makeObject makes a file or directory at p with exactly the bits mode.
func makeObject(t *testing.T, p string, dir bool, mode uint32) {
	t.Helper()
	var err error
	if dir {
		err = os.Mkdir(p, 0o700)
	} else {
		err = os.WriteFile(p, nil, 0o600)
	}
	if err == nil {
		err = os.Chmod(p, fileMode(mode))
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err != nil || permBits(fi.Mode()) != mode {
		t.Skipf("cannot give %s mode %04o here (got %v, %v)", p, mode, fi.Mode(), err)
	}
}

// TestModeSpecRefusesWhatCoreutilsRefuses: every mode coreutils' chmod
// refuses is an error, and coreutils does refuse each one.
func TestModeSpecRefusesWhatCoreutilsRefuses(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range invalidModeSpecs {
		if spec, err := parseModeSpec(s); err == nil {
			t.Errorf("parseModeSpec(%q) = %v, want an error", s, spec)
		}
		if _, err := exec.LookPath("chmod"); err == nil {
			if out, err := exec.Command("chmod", "--", s, f).CombinedOutput(); err == nil {
				t.Errorf("coreutils accepts %q (%s): the case is wrong", s, out)
			}
		}
	}
}
