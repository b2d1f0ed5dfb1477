package extract_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/extract"
)

// TestXattrs pins that PAX extended attributes are applied with Xattrs,
// to files and directories, and ignored without it.
func TestXattrs(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, PAXRecords: map[string]string{"SCHILY.xattr.user.racefree": "dir"}},
		{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, PAXRecords: map[string]string{"SCHILY.xattr.user.racefree": "file"}},
	} {
		tw.WriteHeader(&h)
	}
	tw.Close()
	for _, with := range []bool{false, true} {
		s := newScene(t, "")
		var opts []extract.Option
		if with {
			opts = append(opts, extract.Xattrs())
		}
		_, err := tarInto(t, s, bytes.NewReader(buf.Bytes()), opts...)
		if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("no user extended attributes here: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, value := range map[string]string{"d": "dir", "d/f": "file"} {
			got := make([]byte, 64)
			n, err := unix.Lgetxattr(filepath.Join(s.dst, name), "user.racefree", got)
			switch {
			case with && (err != nil || string(got[:n]) != value):
				t.Errorf("%s: user.racefree = %q (%v), want %q", name, got[:max(n, 0)], err, value)
			case !with && err == nil:
				t.Errorf("%s: user.racefree set without Xattrs", name)
			}
		}
	}
}
