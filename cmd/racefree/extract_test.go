package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/racefree/racefree/capability"
)

func TestExtract(t *testing.T) {
	for _, tc := range extractCases(t) {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

// TestExtractWithoutPrimitives runs the cases again with every optional
// primitive reported missing: files staged by name, hard links by name,
// Install's versioned layout.
func TestExtractWithoutPrimitives(t *testing.T) {
	for _, tc := range extractCases(t) {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "all") })
	}
}

// tarStream is a tar archive of files (name, content pairs), as standard
// input for a case.
func tarStream(t *testing.T, files ...string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.String()
}

func extractCases(t *testing.T) []cmdCase {
	j := filepath.Join
	return []cmdCase{
		{name: "a new DEST from standard input",
			args: []string{"extract", "-", "out"}, stdin: tarStream(t, "a/x", "one", "b", "two"),
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "out/a/x"), "one")
				wantContent(t, j(r, "out/b"), "two")
			}},
		{name: "into an existing DEST",
			tree: []string{"file out/old kept"}, args: []string{"extract", "-", "out"}, stdin: tarStream(t, "new", "n"),
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "out/old"), "kept")
				wantContent(t, j(r, "out/new"), "n")
			}},
		{name: "an escaping entry is refused, what came before stays",
			args: []string{"extract", "-", "out"}, stdin: tarStream(t, "ok", "ok", "../evil", "x"), code: exitFailed,
			stderr: []string{"../evil: leads out of out (refused)"},
			check:  func(t *testing.T, r string) { wantContent(t, j(r, "out/ok"), "ok"); wantMissing(t, j(r, "evil")) }},
		{name: "an escape through a symlink in DEST is refused",
			tree: []string{"dir outside", "symlink out/l ../outside"}, args: []string{"extract", "-", "out"},
			stdin: tarStream(t, "l/evil", "x"), code: exitFailed, stderr: []string{"l/evil: leads out of out (refused)"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "outside/evil")) }},
		{name: "--atomic: a failure leaves nothing",
			args: []string{"extract", "--atomic", "-", "out"}, stdin: tarStream(t, "ok", "ok", "../evil", "x"), code: exitFailed,
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "out")) }},
		{name: "--atomic: a failure leaves the old tree",
			tree: []string{"file out/old kept"}, args: []string{"extract", "--atomic", "-", "out"},
			stdin: tarStream(t, "ok", "ok", "../evil", "x"), code: exitFailed,
			check: func(t *testing.T, r string) { wantContent(t, j(r, "out/old"), "kept"); wantMissing(t, j(r, "out/ok")) }},
		{name: "--atomic replaces the old tree whole", needs: capability.RenameExchange, // a plain directory is replaced by an exchange only
			tree: []string{"file out/old gone"}, args: []string{"extract", "--atomic", "-", "out"}, stdin: tarStream(t, "new", "n"),
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "out/old")); wantContent(t, j(r, "out/new"), "n") }},
		{name: "--root resolves DEST inside DIR",
			tree: []string{"dir r"}, args: []string{"extract", "--root", "r", "-", "d"}, stdin: tarStream(t, "x", "x"),
			check: func(t *testing.T, r string) { wantContent(t, j(r, "r/d/x"), "x") }},
		{name: "--root refuses a DEST outside DIR",
			tree: []string{"dir r"}, args: []string{"extract", "--root", "r", "-", "../d"}, stdin: tarStream(t, "x", "x"),
			code: exitFailed, check: func(t *testing.T, r string) { wantMissing(t, j(r, "d")) }},
		{name: "--in-root keeps a climbing DEST inside DIR",
			tree: []string{"dir r"}, args: []string{"extract", "--in-root", "r", "-", "../../d"}, stdin: tarStream(t, "x", "x"),
			check: func(t *testing.T, r string) { wantContent(t, j(r, "r/d/x"), "x") }},
		{name: "--root with --in-root",
			args: []string{"extract", "--root", "a", "--in-root", "b", "-", "d"}, code: exitUsage},
		{name: "--max-bytes stops before a file past it",
			args: []string{"extract", "--max-bytes", "4", "-", "out"}, stdin: tarStream(t, "a", "1234", "b", "5"), code: exitFailed,
			stderr: []string{"b: ", "limit"},
			check:  func(t *testing.T, r string) { wantContent(t, j(r, "out/a"), "1234"); wantMissing(t, j(r, "out/b")) }},
		{name: "--max-files counts the directories a name makes",
			args: []string{"extract", "--max-files", "3", "-", "out"}, stdin: tarStream(t, "d/e/f/g", "x"), code: exitFailed,
			stderr: []string{"limit"},
			check:  func(t *testing.T, r string) { wantMissing(t, j(r, "out/d/e/f")) }},
		{name: "--max-files takes a count",
			args: []string{"extract", "--max-files", "-1", "-", "out"}, code: exitUsage},
		{name: "one operand",
			args: []string{"extract", "-"}, code: exitUsage},
		{name: "a zip archive from a pipe",
			args: []string{"extract", "-", "out"}, stdin: "PK\x05\x06" + string(make([]byte, 18)), code: exitFailed,
			stderr: []string{"regular file"}},
	}
}

// TestExtractZip extracts a zip file, which is read from its end and so
// must be a regular file.
func TestExtractZip(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(`sub\f`)
	w.Write([]byte("zipped"))
	zw.Close()
	if err := os.WriteFile(filepath.Join(root, "a.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := racefree(t, root, nil, "extract", "a.zip", "out")
	r.expect(t, 0, []string{"extracted 1 files"}, nil)
	wantContent(t, filepath.Join(root, "out/sub/f"), "zipped")
}
