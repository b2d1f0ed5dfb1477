package main

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range writeCases(t) {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func writeCases(t *testing.T) []cmdCase {
	j := filepath.Join
	umasked := umaskedMode(t, 0o666)
	wantMode := func(t *testing.T, path string, mode fs.FileMode) {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, mode)
		}
	}
	return []cmdCase{
		{name: "new file",
			args: []string{"write", "f"}, stdin: "hello\n",
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "f"), "hello\n")
				wantMode(t, j(r, "f"), umasked)
			}},
		{name: "empty input",
			tree: []string{"file f old"}, args: []string{"write", "f"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "f"), "") }},
		{name: "new file with --mode",
			args: []string{"write", "--mode", "600", "d/f"}, tree: []string{"dir d"}, stdin: "secret",
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/f"), "secret"); wantMode(t, j(r, "d/f"), 0o600) }},
		{name: "--mode is not reduced by the umask",
			args: []string{"write", "--mode=0777", "f"}, stdin: "x",
			check: func(t *testing.T, r string) { wantMode(t, j(r, "f"), 0o777) }},
		{name: "an existing file keeps its mode",
			tree: []string{"file f old"}, args: []string{"write", "f"}, stdin: "new",
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "f"), "new")
				wantMode(t, j(r, "f"), 0o644) // as makeTree made it
			}},
		{name: "--mode over an existing file",
			tree: []string{"file f old"}, args: []string{"write", "f", "--mode", "0640"}, stdin: "new",
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "f"), "new")
				wantMode(t, j(r, "f"), 0o640)
			}},
		{name: "a symlink is written through",
			tree: []string{"file d/target old", "symlink d/l target"}, args: []string{"write", "d/l"}, stdin: "new",
			check: func(t *testing.T, r string) {
				wantLink(t, j(r, "d/l"), "target")
				wantContent(t, j(r, "d/target"), "new")
			}},
		{name: "a symlink out of DEST's directory",
			tree: []string{"file target old", "symlink d/l ../target"}, args: []string{"write", "d/l"}, stdin: "new",
			code: 1, stderr: []string{"d/l: is a symlink leading out of its directory"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "target"), "old") }},
		{name: "a directory",
			tree: []string{"dir d"}, args: []string{"write", "d"}, stdin: "x",
			code: 1, stderr: []string{"d: is a directory"}},
		{name: "a trailing slash",
			args: []string{"write", "f/"}, stdin: "x",
			code: 1, stderr: []string{"f/: is a directory"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "f")) }},
		{name: "a missing directory",
			args: []string{"write", "no/f"}, stdin: "x",
			code: 1, stderr: []string{"no/f: no such file or directory"}},

		{name: "no DEST", args: []string{"write"}, code: 2, stderr: []string{"want exactly one DEST"}},
		{name: "two DESTs", args: []string{"write", "a", "b"}, code: 2, stderr: []string{"want exactly one DEST"}},
		{name: "a mode that is not octal", args: []string{"write", "--mode", "rw", "f"}, code: 2, stderr: []string{`--mode "rw": want an octal mode`}},
		{name: "a mode too large", args: []string{"write", "--mode", "17777", "f"}, code: 2, stderr: []string{`--mode "17777": want an octal mode`}},
		{name: "empty DEST", args: []string{"write", ""}, code: 2, stderr: []string{"empty operand"}},
	}
}

// umaskedMode is what the umask makes of perm for a new file, measured
// rather than read (reading the umask means setting it).
func umaskedMode(t *testing.T, perm fs.FileMode) fs.FileMode {
	p := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(p, nil, perm); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestWriteLargeInput streams 5 MiB through write and checks every byte.
func TestWriteLargeInput(t *testing.T) {
	data := make([]byte, 5<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	dir := t.TempDir()
	makeTree(t, dir, "file big old")
	r := racefreeIO(t, dir, nil, bytes.NewReader(data), "write", "big")
	r.expect(t, 0, nil, nil)
	got, err := os.ReadFile(filepath.Join(dir, "big"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("big: %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	wantNoStaging(t, dir)
}
