//go:build linux

package dirfd_test

// An in-memory model of name resolution in a tree, with the semantics the
// kernel's openat2 gives RESOLVE_BENEATH, RESOLVE_IN_ROOT and
// RESOLVE_NO_SYMLINKS (fs/namei.c): components are looked up left to right,
// ".." is the physical parent, a symlink met before the last component (or
// as the last one when following, or before a trailing slash) has its target
// spliced in, an absolute target or name restarts at the root (InRoot) or is
// refused (Beneath), ".." at the root stays there (InRoot) or is refused
// (Beneath), and more than 40 symlinks in one lookup is ELOOP.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

type fzKind byte

const (
	fzDir     fzKind = 'd'
	fzFile    fzKind = 'f'
	fzSymlink fzKind = 'l'
)

type fzNode struct {
	kind   fzKind
	name   string
	parent *fzNode
	kids   map[string]*fzNode
	target string // symlinks
	rel    string // path from the root, "." for the root
}

// fzModel is a tree of at most fzMaxEntries entries below a root.
type fzModel struct {
	root    *fzNode
	entries []*fzNode // in creation order
}

const (
	fzMaxEntries = 8
	fzMaxLinks   = 40 // MAXSYMLINKS
)

func fzNewModel() *fzModel {
	return &fzModel{root: &fzNode{kind: fzDir, kids: map[string]*fzNode{}, rel: "."}}
}

// fzParseSpec builds a model from a spec: items separated by ';', each
// "d PATH", "f PATH" or "l PATH TARGET" (TARGET is the rest of the item;
// "$OUT" in it is replaced by outAbs, the absolute path of the directory
// outside the root). Items that cannot be created (missing parent,
// duplicate name, bad name, empty target) are skipped, so every input
// gives some tree.
func fzParseSpec(spec, outAbs string) *fzModel {
	m := fzNewModel()
	for item := range strings.SplitSeq(spec, ";") {
		if len(m.entries) >= fzMaxEntries {
			break
		}
		item = strings.TrimLeft(item, " \n\t")
		if len(item) < 3 || item[1] != ' ' {
			continue
		}
		kind := fzKind(item[0])
		rest := item[2:]
		var path, target string
		switch kind {
		case fzDir, fzFile:
			path = rest
		case fzSymlink:
			var ok bool
			path, target, ok = strings.Cut(rest, " ")
			if !ok {
				continue
			}
			target = strings.ReplaceAll(target, "$OUT", outAbs)
			if target == "" || len(target) > 255 || strings.IndexByte(target, 0) >= 0 {
				continue
			}
		default:
			continue
		}
		parent := m.root
		parts := strings.Split(path, "/")
		ok := true
		for _, p := range parts[:len(parts)-1] {
			next := parent.kids[p]
			if next == nil || next.kind != fzDir {
				ok = false
				break
			}
			parent = next
		}
		name := parts[len(parts)-1]
		if !ok || name == "" || name == "." || name == ".." || len(name) > 64 ||
			strings.IndexByte(name, 0) >= 0 || parent.kids[name] != nil {
			continue
		}
		n := &fzNode{kind: kind, name: name, parent: parent, target: target}
		if parent == m.root {
			n.rel = name
		} else {
			n.rel = parent.rel + "/" + name
		}
		if kind == fzDir {
			n.kids = map[string]*fzNode{}
		}
		parent.kids[name] = n
		m.entries = append(m.entries, n)
	}
	return m
}

// String prints the tree, for failure messages.
func (m *fzModel) String() string {
	var b strings.Builder
	for _, n := range m.entries {
		switch n.kind {
		case fzSymlink:
			fmt.Fprintf(&b, "  %s -> %q\n", n.rel, n.target)
		case fzDir:
			fmt.Fprintf(&b, "  %s/\n", n.rel)
		default:
			fmt.Fprintf(&b, "  %s\n", n.rel)
		}
	}
	return b.String()
}

// fzBuild creates the model's tree under root.
func fzBuild(m *fzModel, root string) error {
	for _, n := range m.entries {
		p := filepath.Join(root, n.rel)
		var err error
		switch n.kind {
		case fzDir:
			err = os.Mkdir(p, 0o755)
		case fzFile:
			err = os.WriteFile(p, []byte(n.rel), 0o644)
		case fzSymlink:
			err = os.Symlink(n.target, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fzMode is a resolution mode of a Dir.
type fzMode struct {
	name       string
	inRoot     bool
	noSymlinks bool
}

var fzModes = []fzMode{
	{name: "Beneath"},
	{name: "InRoot", inRoot: true},
	{name: "NoSymlinks", noSymlinks: true},
	{name: "InRoot+NoSymlinks", inRoot: true, noSymlinks: true},
}

func (md fzMode) options() []dirfd.Option {
	var opts []dirfd.Option
	if md.inRoot {
		opts = append(opts, dirfd.InRoot())
	}
	if md.noSymlinks {
		opts = append(opts, dirfd.NoSymlinks())
	}
	return opts
}

// Error classes the model and the Dir are compared by.
const (
	fzOK          = "ok"
	fzEscape      = "escape"
	fzENOENT      = "ENOENT"
	fzENOTDIR     = "ENOTDIR"
	fzELOOP       = "ELOOP"
	fzInvalid     = "invalid"
	fzNameTooLong = "ENAMETOOLONG"
)

// fzClass names the class of an error returned by a Dir.
func fzClass(err error) string {
	switch {
	case err == nil:
		return fzOK
	case errors.Is(err, dirfd.ErrEscape):
		return fzEscape
	case errors.Is(err, syscall.ENOENT):
		return fzENOENT
	case errors.Is(err, syscall.ENOTDIR):
		return fzENOTDIR
	case errors.Is(err, syscall.ELOOP):
		return fzELOOP
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fzNameTooLong
	case errors.Is(err, fs.ErrInvalid):
		return fzInvalid
	}
	return "other: " + err.Error()
}

// fzSplit splits a name into components, dropping empty ones; a trailing
// slash (or a final "." component, which means the same) becomes a final
// "." so that the last real component must be a directory and a symlink
// there is followed.
func fzSplit(name string) (parts []string, abs bool) {
	abs = strings.HasPrefix(name, "/")
	for p := range strings.SplitSeq(name, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if strings.HasSuffix(name, "/") && len(parts) > 0 {
		parts = append(parts, ".")
	}
	return parts, abs
}

// resolve is the model of openat2(root, name, O_PATH [| O_NOFOLLOW],
// resolve flags for md). It returns the object reached or an error class.
func (m *fzModel) resolve(name string, md fzMode, follow bool) (*fzNode, string) {
	return m.resolveLimit(name, md, follow, fzMaxLinks)
}

// resolveLimit is resolve with a different limit on symlinks.
func (m *fzModel) resolveLimit(name string, md fzMode, follow bool, maxLinks int) (*fzNode, string) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, fzInvalid
	}
	queue, abs := fzSplit(name)
	if abs && !md.inRoot {
		return nil, fzEscape
	}
	cur := m.root
	links := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		last := len(queue) == 0
		if cur.kind != fzDir {
			return nil, fzENOTDIR
		}
		if len(c) > 255 {
			return nil, fzNameTooLong
		}
		switch c {
		case ".":
			continue
		case "..":
			if cur == m.root {
				if !md.inRoot {
					return nil, fzEscape
				}
				continue
			}
			cur = cur.parent
			continue
		}
		next := cur.kids[c]
		if next == nil {
			return nil, fzENOENT
		}
		if next.kind == fzSymlink && (!last || follow) {
			links++
			if md.noSymlinks || links > maxLinks {
				return nil, fzELOOP
			}
			tparts, tabs := fzSplit(next.target)
			if tabs {
				if !md.inRoot {
					return nil, fzEscape
				}
				cur = m.root
			}
			queue = append(tparts, queue...)
			continue
		}
		cur = next
	}
	return cur, fzOK
}

// fzInode identifies an object.
type fzInode struct{ dev, ino uint64 }

func fzInodeOf(fi fs.FileInfo) fzInode {
	st := fi.Sys().(*syscall.Stat_t)
	return fzInode{uint64(st.Dev), uint64(st.Ino)}
}

// fzInodesUnder returns the inode of every object in the tree at root
// (not following symlinks), root included, mapped to a path.
func fzInodesUnder(root string) (map[fzInode]string, error) {
	set := map[fzInode]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		set[fzInodeOf(fi)] = p
		return nil
	})
	return set, err
}
