//go:build unix

package extract_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
)

// TestExtractionComposedWithInstall pins the composition the package
// documents: inside Install an extraction that fails midway leaves nothing
// (a new name stays absent, an old tree stays as it was) and one that
// succeeds appears whole; outside Install a failure leaves what was made,
// each file complete, and nothing half-written under any name.
func TestExtractionComposedWithInstall(t *testing.T) {
	escaping := []member{f("ok", "ok"), f("../evil", "x")}
	good := []member{dir("sub"), f("sub/a", "a"), f("b", "b")}
	for _, tc := range []struct {
		name    string
		setup   string
		members []member
		cut     int // bytes cut off the end of the archive (a truncated download)
		install bool
		wantErr bool
		want    string // the tree under base/dst/app afterwards; "-" for no app at all
	}{
		{name: "install/failure-leaves-nothing", members: escaping, install: true, wantErr: true, want: "-"},
		{name: "install/failure-leaves-the-old-tree", setup: "dir dst/app\nfile dst/app/old o", members: escaping, install: true,
			wantErr: true, want: "old file 0644 1 o"},
		{name: "install/truncated-archive-leaves-the-old-tree", setup: "dir dst/app\nfile dst/app/old o",
			members: []member{f("ok", "ok"), f("big", strings.Repeat("b", 4096))}, cut: 3000, install: true, wantErr: true,
			want: "old file 0644 1 o"},
		{name: "install/success-replaces-whole", setup: "dir dst/app\nfile dst/app/old o", members: good, install: true,
			want: "sub dir 0755\nsub/a file 0644 1 a\nb file 0644 1 b"},
		{name: "direct/failure-leaves-what-was-made", members: escaping, wantErr: true, want: "ok file 0644 1 ok"},
		{name: "direct/truncated-archive-leaves-no-half-file",
			members: []member{f("ok", "ok"), f("big", strings.Repeat("b", 4096))}, cut: 3000, wantErr: true,
			want: "ok file 0644 1 ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, tc.setup)
			data := tarOf(t, s.base, tc.members)
			data = data[:len(data)-tc.cut]
			d, err := dirfd.Open(s.dst)
			if err != nil {
				t.Fatal(err)
			}
			if tc.install {
				err = d.Install("app", func(stage *dirfd.Dir) error {
					_, err := extract.Tar(stage, bytes.NewReader(data))
					return err
				})
			} else {
				err = extractIntoApp(d, data)
			}
			d.Close()
			if errors.Is(err, errors.ErrUnsupported) && tc.setup != "" {
				t.Skipf("no atomic exchange here, so Install cannot replace a directory: %v", err)
			}
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("extraction: %v, want an error: %v", err, tc.wantErr)
			}
			if d := s.escaped(t, ""); d != "" {
				t.Errorf("changed outside dst:\n%s", d)
			}
			app := filepath.Join(s.dst, "app")
			if tc.want == "-" {
				if _, err := os.Lstat(app); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("app exists after a failed Install (%v)", err)
				}
			} else if diff := cmp.Diff(treeOf(tc.want), describe(t, app, false)); diff != "" {
				t.Errorf("app (-want +got):\n%s", diff)
			}
			if left := leftovers(t, s.dst); len(left) > 0 {
				t.Errorf("left in dst: %v", left)
			}
		})
	}
}

// extractIntoApp extracts into dst/app, made first, without Install.
func extractIntoApp(d *dirfd.Dir, data []byte) error {
	if err := d.Mkdir("app", 0o755); err != nil {
		return err
	}
	app, err := d.OpenDir("app")
	if err != nil {
		return err
	}
	defer app.Close()
	_, err = extract.Tar(app, io.MultiReader(bytes.NewReader(data)))
	return err
}

// leftovers lists what dst holds besides app: staging directories left
// behind, or files that escaped into dst itself.
func leftovers(t *testing.T, dst string) []string {
	t.Helper()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "app" {
			out = append(out, e.Name())
		}
	}
	return out
}
