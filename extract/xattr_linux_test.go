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

// TestFileCapabilityRidesAlongOnlyWithSetID: a file capability grants
// privilege to whoever runs the file, as a set-user-ID bit does (S7), so
// Xattrs alone does not apply security.capability; with SetID and Owners,
// as root, it is kept like the set-ID bits.
func TestFileCapabilityRidesAlongOnlyWithSetID(t *testing.T) {
	if syscall.Geteuid() != 0 {
		t.Skip("setting security.capability needs root (CAP_SETFCAP)")
	}
	// vfs_cap_data, revision 2, effective, permitted CAP_NET_BIND_SERVICE.
	capability := string([]byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o755, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": capability}})
	tw.Close()
	for _, tc := range []struct {
		name string
		opts []extract.Option
		kept bool
	}{
		{"Xattrs alone", []extract.Option{extract.Xattrs()}, false},
		{"Xattrs and Owners", []extract.Option{extract.Xattrs(), extract.Owners()}, false},
		{"Xattrs, Owners and SetID", []extract.Option{extract.Xattrs(), extract.Owners(), extract.SetID()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScene(t, "")
			if _, err := tarInto(t, s, bytes.NewReader(buf.Bytes()), tc.opts...); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 64)
			n, err := unix.Lgetxattr(filepath.Join(s.dst, "f"), "security.capability", got)
			switch {
			case tc.kept && (err != nil || string(got[:n]) != capability):
				t.Errorf("security.capability = %x (%v), want it kept", got[:max(n, 0)], err)
			case !tc.kept && err == nil:
				t.Errorf("security.capability = %x, applied without SetID and the owner", got[:n])
			}
		})
	}
}
