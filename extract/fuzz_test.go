//go:build unix

package extract_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/dirfd"
)

// The fuzz grammar: an archive is a list of members, three input bytes
// each (kind, name, target or content), drawn from small sets, so that
// random input makes archives whose names collide, climb, run through
// symlinks and link to each other far more often than random bytes would.
var (
	fuzzNames = []string{
		"a", "b", "c", "a/b", "a/c", "b/a", "a/b/c", "l", "l/x", "a/l", "a/l/x",
		"/a", "./b", "/./a/b", ".", "./", "a/.", "a/./b", "a//b",
		"..", "../x", "a/..", "a/../b", "a/../../x", "l/../x",
	}
	fuzzTargets = []string{"a", "b", "a/b", "c", "l", "../outside", "../outside/f", "/", "/a", "a/../..", "l/x", "."}
	fuzzKinds   = []byte("fdlh")
)

// fuzzMembers decodes input into members.
func fuzzMembers(input []byte) []member {
	var ms []member
	for i := 0; i+2 < len(input) && len(ms) < 24; i += 3 {
		kind := fuzzKinds[int(input[i])%len(fuzzKinds)]
		name := fuzzNames[int(input[i+1])%len(fuzzNames)]
		arg := int(input[i+2])
		if strings.HasSuffix(name, "/") {
			kind = 'd' // archive/tar will not write another kind so named
		}
		switch kind {
		case 'f':
			ms = append(ms, f(name, fmt.Sprintf("content %d", arg)))
		case 'd':
			ms = append(ms, dir(name))
		case 'l':
			ms = append(ms, sym(name, fuzzTargets[arg%len(fuzzTargets)]))
		case 'h':
			ms = append(ms, hard(name, fuzzNames[arg%len(fuzzNames)]))
		}
	}
	return ms
}

// FuzzExtract extracts random archives of the grammar, as tar and as zip,
// into Beneath and InRoot Dirs: never a panic, never a change outside dst,
// and for a benign archive (no symlinks, no "..") exactly the tree the
// reference model says, including where an error stops it. The seed corpus
// (run by every go test) is 64 archives from a fixed seed.
func FuzzExtract(f *testing.F) {
	rng := rand.New(rand.NewPCG(14, 14))
	for range 64 {
		seed := make([]byte, 3*(1+rng.IntN(8)))
		for i := range seed {
			seed[i] = byte(rng.IntN(256))
		}
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, input []byte, inRoot bool) {
		members := fuzzMembers(input)
		for _, format := range []string{"tar", "zip"} {
			s := newScene(t, "")
			data := archiveOf(t, format, s.base, members)
			if data == nil {
				continue // hard links have no zip form
			}
			var opts []dirfd.Option
			if inRoot {
				opts = append(opts, dirfd.InRoot())
			}
			d, err := dirfd.Open(s.dst, opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = extractFormat(format, d, data)
			d.Close()
			if diff := s.escaped(t, ""); diff != "" {
				t.Fatalf("%s %+v: changed outside dst:\n%s", format, members, diff)
			}
			want, benign := model(members)
			if !benign {
				continue
			}
			if diff := cmp.Diff(want.tree(), describe(t, s.dst, false)); diff != "" {
				t.Fatalf("%s %+v (error %v): dst differs from the model (-model +got):\n%s", format, members, err, diff)
			}
			if (err != nil) != want.failed {
				t.Fatalf("%s %+v: error %v, the model says failed: %v", format, members, err, want.failed)
			}
		}
	})
}

// modelNode is a directory or a file of the reference model; files that
// are hard links of each other share one *modelFile.
type modelNode struct {
	dir  bool
	file *modelFile
}

type modelFile struct{ content string }

type modelTree struct {
	nodes  map[string]*modelNode
	failed bool
}

// model applies members to an empty tree by the package's rules, written
// again as plainly as possible. benign is false when a member has a
// symlink or ".." (the model does not resolve those: the fuzz target then
// checks containment only).
func model(members []member) (*modelTree, bool) {
	m := &modelTree{nodes: map[string]*modelNode{".": {dir: true}}}
	for _, mb := range members {
		if mb.kind == 'l' || hasDotDot(mb.name) || mb.kind == 'h' && hasDotDot(mb.body) {
			return nil, false
		}
	}
	for _, mb := range members {
		if !m.apply(mb) {
			m.failed = true
			break
		}
	}
	return m, true
}

func hasDotDot(name string) bool {
	for _, p := range strings.Split(name, "/") {
		if p == ".." {
			return true
		}
	}
	return false
}

// parts is a name's real components: "", "." and the leading "/" dropped.
func parts(name string) []string {
	var out []string
	for _, p := range strings.Split(name, "/") {
		if p != "" && p != "." {
			out = append(out, p)
		}
	}
	return out
}

func (m *modelTree) apply(mb member) bool {
	ps := parts(mb.name)
	if len(ps) == 0 {
		return mb.kind == 'd' // dst itself: only a directory entry may name it
	}
	if mb.kind != 'd' && (strings.HasSuffix(mb.name, "/") || strings.HasSuffix(mb.name, "/.")) {
		return false
	}
	// Parents first, made where missing.
	for i := 1; i < len(ps); i++ {
		p := strings.Join(ps[:i], "/")
		switch n := m.nodes[p]; {
		case n == nil:
			m.nodes[p] = &modelNode{dir: true}
		case !n.dir:
			return false
		}
	}
	name := strings.Join(ps, "/")
	old := m.nodes[name]
	switch mb.kind {
	case 'd':
		if old == nil || !old.dir {
			m.nodes[name] = &modelNode{dir: true}
		}
		return true
	case 'f':
		if old != nil && old.dir {
			return false
		}
		m.nodes[name] = &modelNode{file: &modelFile{content: mb.body}}
		return true
	case 'h':
		tps := parts(mb.body)
		if len(tps) == 0 {
			return false
		}
		for i := 1; i < len(tps); i++ {
			if n := m.nodes[strings.Join(tps[:i], "/")]; n == nil || !n.dir {
				return false
			}
		}
		target := m.nodes[strings.Join(tps, "/")]
		if target == nil || target.dir || old != nil && old.dir {
			return false
		}
		m.nodes[name] = &modelNode{file: target.file}
		return true
	}
	return false
}

// tree describes the model as describe describes a directory.
func (m *modelTree) tree() map[string]string {
	links := map[*modelFile]int{}
	for _, n := range m.nodes {
		if n.file != nil {
			links[n.file]++
		}
	}
	out := map[string]string{}
	for name, n := range m.nodes {
		if n.dir {
			out[name] = "dir 0755"
		} else {
			out[name] = fmt.Sprintf("file 0644 %d %s", links[n.file], n.file.content)
		}
	}
	return out
}
