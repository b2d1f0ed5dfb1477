//go:build unix

package extract_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// member is one archive entry of a test, in a tiny language: kind is
// 'f' (file, body is the content), 'd' (directory), 'l' (symlink, body is
// the target), 'h' (hard link, body is the target), 'p' (FIFO), 'c'
// (character device 1,3) or 'x' (an entry type extraction skips). mode 0
// means 0644 for files and 0755 for directories.
type member struct {
	kind byte
	name string
	body string
	mode int64
}

func f(name, body string) member     { return member{kind: 'f', name: name, body: body} }
func dir(name string) member         { return member{kind: 'd', name: name} }
func sym(name, target string) member { return member{kind: 'l', name: name, body: target} }
func hard(name, target string) member {
	return member{kind: 'h', name: name, body: target}
}

// withMode returns m with the given mode.
func withMode(m member, mode int64) member { m.mode = mode; return m }

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// tarOf builds a tar archive of members. $BASE in names and targets is
// replaced by base, so a case can name the sentinel by absolute path.
func tarOf(t testing.TB, base string, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		hdr := &tar.Header{
			Name:     strings.ReplaceAll(m.name, "$BASE", base),
			Linkname: strings.ReplaceAll(m.body, "$BASE", base),
			Mode:     m.mode,
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		switch m.kind {
		case 'f':
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeReg, "", int64(len(m.body))
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
		case 'd':
			hdr.Typeflag = tar.TypeDir
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
		case 'l':
			hdr.Typeflag = tar.TypeSymlink
		case 'h':
			hdr.Typeflag = tar.TypeLink
		case 'p':
			hdr.Typeflag, hdr.Mode = tar.TypeFifo, 0o644
		case 'c':
			hdr.Typeflag, hdr.Mode, hdr.Devmajor, hdr.Devminor = tar.TypeChar, 0o666, 1, 3
		case 'x':
			hdr.Typeflag = 'V' // a GNU volume header
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar %s: %v", m.name, err)
		}
		if m.kind == 'f' {
			tw.Write([]byte(m.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipOf builds a zip archive of members, or returns nil when one of them
// has no zip form (hard links, devices, FIFOs).
func zipOf(t testing.TB, base string, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		fh := &zip.FileHeader{Name: strings.ReplaceAll(m.name, "$BASE", base), Method: zip.Deflate, Modified: epoch}
		mode := fs.FileMode(m.mode & 0o777)
		for bit, flag := range map[int64]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
			if m.mode&bit != 0 {
				mode |= flag
			}
		}
		switch m.kind {
		case 'f':
			if mode == 0 {
				mode = 0o644
			}
		case 'd':
			if mode == 0 {
				mode = 0o755
			}
			mode |= fs.ModeDir
			if !strings.HasSuffix(fh.Name, "/") {
				fh.Name += "/"
			}
		case 'l':
			mode = fs.ModeSymlink | 0o777
		default:
			return nil
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(strings.ReplaceAll(m.body, "$BASE", base)))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scene is a test's filesystem: base/dst, the extraction's destination,
// and base/outside, the sentinel tree nothing may change.
type scene struct {
	base, dst, outside string
	sentinel           map[string]string
}

// sentinelTree is what outside/ holds.
const sentinelTree = `
	dir outside
	file outside/secret outside secret
	file outside/f outside f
	dir outside/sub
	file outside/sub/g outside g
	symlink outside/l f
`

func newScene(t testing.TB, setup string) *scene {
	t.Helper()
	base := t.TempDir()
	// Before TempDir's removal: an extracted read-only directory would
	// stop it for a caller without privilege.
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	s := &scene{base: base, dst: filepath.Join(base, "dst"), outside: filepath.Join(base, "outside")}
	buildTree(t, base, "dir dst\n"+sentinelTree+setup)
	s.sentinel = describe(t, s.outside, true)
	return s
}

// escaped reports how the sentinel differs from when the scene was made
// (go-cmp's diff), or "" when it does not. private, when set, is what
// base/private/secret must still hold (a file the case links into dst,
// whose link count the extraction may change).
func (s *scene) escaped(t testing.TB, private string) string {
	t.Helper()
	if private != "" {
		if data, _ := os.ReadFile(filepath.Join(s.base, "private/secret")); string(data) != private {
			return fmt.Sprintf("private/secret holds %q, want %q", data, private)
		}
	}
	return cmp.Diff(s.sentinel, describe(t, s.outside, true))
}

// buildTree creates what a spec describes under root, with plain os calls:
//
//	dir     PATH            mkdir 0755
//	file    PATH [CONTENT]  0644
//	symlink PATH TARGET     ($BASE is replaced by root)
//	link    PATH TARGET     a hard link to TARGET (relative to root)
//	fifo    PATH
func buildTree(t testing.TB, root, spec string) {
	t.Helper()
	for _, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		p := filepath.Join(root, fields[1])
		arg := ""
		if len(fields) == 3 {
			arg = strings.ReplaceAll(fields[2], "$BASE", root)
		}
		var err error
		switch fields[0] {
		case "dir":
			err = os.Mkdir(p, 0o755)
		case "file":
			err = os.WriteFile(p, []byte(arg), 0o644)
		case "symlink":
			err = os.Symlink(arg, p)
		case "link":
			err = os.Link(filepath.Join(root, arg), p)
		case "fifo":
			err = syscall.Mkfifo(p, 0o644)
		default:
			t.Fatalf("tree spec %q: unknown kind", line)
		}
		if err != nil {
			t.Fatalf("tree spec %q: %v", line, err)
		}
	}
}

// describe records every object under root, one line each, without
// following symlinks: "PATH dir MODE", "PATH file MODE NLINK CONTENT",
// "PATH symlink TARGET", "PATH fifo MODE", "PATH other MODE". With times,
// the modification and change times are recorded too (the sentinel's:
// they catch a chmod, chown or utimes through a symlink).
func describe(t testing.TB, root string, times bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, err := os.Lstat(root); err != nil {
		return map[string]string{".": err.Error()}
	}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		perm := fmt.Sprintf("%04o", uint32(st.Mode)&0o7777)
		var desc string
		switch fi.Mode().Type() {
		case fs.ModeDir:
			desc = "dir " + perm
		case 0:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc = fmt.Sprintf("file %s %d %s", perm, st.Nlink, data)
		case fs.ModeSymlink:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc = "symlink " + target
		case fs.ModeNamedPipe:
			desc = "fifo " + perm
		default:
			desc = fmt.Sprintf("other %v", fi.Mode())
		}
		if times {
			desc += fmt.Sprintf(" mtime=%d ctime=%d ino=%d", st.Mtim.Nano(), st.Ctim.Nano(), st.Ino)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// treeOf reads an expected tree: one "PATH KIND ..." line each, as
// describe writes them (without times). "." is always there as "dir 0755".
func treeOf(spec string) map[string]string {
	out := map[string]string{".": "dir 0755"}
	for _, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		path, desc, _ := strings.Cut(line, " ")
		out[path] = desc
	}
	return out
}
