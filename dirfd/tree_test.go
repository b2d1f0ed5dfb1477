//go:build unix

package dirfd_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/staging"
)

// buildTree creates the entries a spec describes under root, with plain os
// calls (never through the package under test). One entry per line:
//
//	dir     PATH            mkdir, mode 0755 (less the umask)
//	file    PATH [CONTENT]  regular file, mode 0644; CONTENT is the rest of the line
//	symlink PATH TARGET     symlink; TARGET is stored as written
//	chmod   PATH MODE       octal mode, applied after everything above it
//	link    PATH OLD        hard link to OLD (relative to root)
//	fifo    PATH            named pipe, mode 0644
//	chown   PATH UID:GID    owner and group of the object itself (lchown)
//	mtime   PATH SEC        access and modification time of the object itself
//
// Blank lines and lines starting with "#" are skipped. In CONTENT and
// TARGET, "$ROOT" is replaced by root, so a fixture can hold absolute
// symlinks to its own sibling trees. Parents are not created implicitly:
// a spec lists them, so the spec is the whole truth about the fixture.
func buildTree(t testing.TB, root, spec string) {
	t.Helper()
	for lineNo, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 {
			t.Fatalf("tree spec line %d: %q: want KIND PATH [ARG]", lineNo+1, line)
		}
		kind, path := fields[0], filepath.Join(root, fields[1])
		arg := ""
		if len(fields) == 3 {
			arg = strings.ReplaceAll(fields[2], "$ROOT", root)
		}
		var err error
		switch kind {
		case "dir":
			err = os.Mkdir(path, 0o755)
		case "file":
			err = os.WriteFile(path, []byte(arg), 0o644)
		case "symlink":
			if arg == "" {
				t.Fatalf("tree spec line %d: %q: symlink needs a target", lineNo+1, line)
			}
			err = os.Symlink(arg, path)
		case "chmod":
			var mode uint64
			mode, err = strconv.ParseUint(arg, 8, 32)
			if err == nil {
				// os.Chmod would drop set-ID bits given as octal.
				err = syscall.Chmod(path, uint32(mode))
			}
		case "link":
			err = os.Link(filepath.Join(root, arg), path)
		case "fifo":
			err = syscall.Mkfifo(path, 0o644)
		case "chown":
			var uid, gid int
			if _, err = fmt.Sscanf(arg, "%d:%d", &uid, &gid); err == nil {
				err = os.Lchown(path, uid, gid)
			}
		case "mtime":
			var sec int64
			if sec, err = strconv.ParseInt(arg, 10, 64); err == nil {
				ts := []unix.Timespec{{Sec: sec, Nsec: 123456789}, {Sec: sec, Nsec: 987654321}}
				err = unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
			}
		default:
			t.Fatalf("tree spec line %d: %q: unknown kind %q", lineNo+1, line, kind)
		}
		if err != nil {
			t.Fatalf("tree spec line %d: %q: %v", lineNo+1, line, err)
		}
	}
}

// entry is what a snapshot records about one object.
type entry struct {
	Type    string      // "dir", "file", "symlink" or "other"
	Mode    fs.FileMode // full mode bits, as Lstat reports them
	Content string      `json:",omitempty"` // regular files
	Target  string      `json:",omitempty"` // symlinks
	Nlink   uint64      // catches hard links made to (or removed from) an object
}

// snapshot records every object under root (root itself as "."), without
// following symlinks, keyed by slash-separated path relative to root.
// Entries whose path is in skip (relative to root) are left out together
// with everything below them. Times are not recorded: reads change atimes.
func snapshot(t testing.TB, root string, skip ...string) map[string]entry {
	t.Helper()
	snap := map[string]entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, s := range skip {
			if rel == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if keptStage(path, fi) {
			return filepath.SkipDir
		}
		e := entry{Mode: fi.Mode()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.Nlink = uint64(st.Nlink)
		}
		switch {
		case fi.Mode().IsDir():
			e.Type = "dir"
			e.Nlink = 0 // a directory's link count moves with its subdirectories, which are recorded themselves
		case fi.Mode().IsRegular():
			e.Type = "file"
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			e.Content = string(data)
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Type = "symlink"
			if e.Target, err = os.Readlink(path); err != nil {
				return err
			}
		default:
			e.Type = "other"
		}
		snap[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return snap
}

// inodes returns the (device, inode) pairs of every object under root,
// symlinks not followed, so a test can tell whether an object it reached
// through a Dir lives in that tree.
func inodes(t testing.TB, root string) map[[2]uint64]string {
	t.Helper()
	set := map[[2]uint64]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			set[[2]uint64{uint64(st.Dev), uint64(st.Ino)}] = path
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inodes %s: %v", root, err)
	}
	return set
}

// inodeOf returns the (device, inode) pair of an fs.FileInfo.
func inodeOf(fi fs.FileInfo) ([2]uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}

func TestBuildTreeAndSnapshot(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, `
		# a comment
		dir a
		file a/f hello world
		file a/empty
		symlink a/l ../b
		symlink a/abs $ROOT/a/f
		dir b
		chmod b 0700
	`)
	got := snapshot(t, root)
	want := map[string]entry{
		"a/f":     {Type: "file", Mode: 0o644, Content: "hello world", Nlink: 1},
		"a/empty": {Type: "file", Mode: 0o644, Nlink: 1},
		"a/l":     {Type: "symlink", Mode: fs.ModeSymlink | 0o777, Target: "../b", Nlink: 1},
		"a/abs":   {Type: "symlink", Mode: fs.ModeSymlink | 0o777, Target: root + "/a/f", Nlink: 1},
		"b":       {Type: "dir", Mode: fs.ModeDir | 0o700},
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("snapshot lacks %s", name)
			continue
		}
		if w.Type == "file" {
			// The umask may have cleared bits of 0644, never added any.
			if g.Mode&^0o644 != 0 {
				t.Errorf("snapshot[%s] mode %v, want at most 0644", name, g.Mode)
			}
			w.Mode = g.Mode
		}
		if g != w {
			t.Errorf("snapshot[%s] = %+v, want %+v", name, g, w)
		}
	}
	if _, ok := snapshot(t, root, "a")["a/f"]; ok {
		t.Errorf("snapshot with skip a still has a/f")
	}
}

// keptStage reports whether path is a stage that an open Dir of this
// process keeps for reuse (DESIGN.md S3), and empty, as every kept stage
// must be between operations (S2): the trees and lists that tests compare
// leave it out, while a stage that holds anything is still reported.
func keptStage(path string, fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() || !strings.HasPrefix(filepath.Base(path), staging.Prefix) || !staging.Live(uint64(st.Dev), uint64(st.Ino)) {
		return false
	}
	entries, err := os.ReadDir(path)
	return err == nil && len(entries) == 0
}
