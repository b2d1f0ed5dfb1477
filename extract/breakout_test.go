//go:build unix

package extract_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
	"github.com/racefree/racefree/internal/naive"
)

// breakout is one case of the breakout corpus: an archive built by the
// test (as tar, and as zip where every member has a zip form), extracted
// into base/dst next to the sentinel tree base/outside.
type breakout struct {
	name    string
	setup   string // tree spec under base, built before the archive is extracted
	members []member
	opts    []extract.Option
	inRoot  bool   // extract into an InRoot Dir (a container's rootfs)
	want    string // dst's tree afterwards, as describe writes it ("." is "dir 0755" unless given)
	wantErr error  // nil: the extraction succeeds
	// naive: the naive extractor escapes on this case (and must be caught
	// doing so). noNaive: running it would harm the machine (a write
	// above base, a hang on a FIFO), so it is not run.
	naive, noNaive bool
	zipOnly        bool // a zip-only case (backslash names)
	tarOnly        bool // a tar-only case (owners: zip has none)
	// private, when set, is the content of base/private/secret, a file
	// outside dst that the case links into dst: it must keep it.
	private   string
	whiteouts bool // the naive extractor applies whiteouts too
	root      bool // needs root (devices, owners)
}

func breakouts() []breakout {
	cases := []breakout{
		// Names.
		{name: "dotdot", members: []member{f("../outside/evil", "x")}, wantErr: dirfd.ErrEscape, naive: true},
		{name: "dotdot-deep", members: []member{f("a/../../outside/evil", "x")}, wantErr: dirfd.ErrEscape, want: "a dir 0755", naive: true},
		{name: "dotdot-inside", members: []member{f("a/../b", "x")}, want: "a dir 0755\nb file 0644 1 x"},
		{name: "absolute-name-stripped", members: []member{f("/etc/evil", "x")}, want: "etc dir 0755\netc/evil file 0644 1 x"},
		{name: "dot-slash-stripped", members: []member{f("./a", "x"), f(".//./b", "y")}, want: "a file 0644 1 x\nb file 0644 1 y"},
		{name: "long-name", members: []member{f(strings.Repeat("n", 200), "x")}, want: strings.Repeat("n", 200) + " file 0644 1 x"},
		{name: "component-too-long", members: []member{f(strings.Repeat("n", 300), "x")}, wantErr: syscall.ENAMETOOLONG},
		{name: "non-utf8-name", members: []member{f("caf\xe9", "x")}, want: "caf\xe9 file 0644 1 x"},
		{name: "file-named-dot", members: []member{f("a/.", "x")}, wantErr: os.ErrInvalid},
		{name: "zip-backslash-dotdot", zipOnly: true, members: []member{f(`..\..\outside\evil`, "x")}, wantErr: dirfd.ErrEscape},
		{name: "zip-backslash-separator", zipOnly: true, members: []member{f(`a\b`, "x")}, want: "a dir 0755\na/b file 0644 1 x"},
		{name: "inroot-dotdot-clamped", inRoot: true, noNaive: true, members: []member{f("../../x", "x")}, want: "x file 0644 1 x"},

		// Symlinks, then a write through them.
		{name: "symlink-then-file-through-it", members: []member{sym("l", "../outside"), f("l/evil", "x")},
			wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "symlink-then-file-over-it", members: []member{sym("l", "../outside/f"), f("l", "x")},
			want: "l file 0644 1 x", naive: true},
		{name: "absolute-symlink-then-file-through-it", members: []member{sym("l", "$BASE/outside"), f("l/evil", "x")},
			wantErr: dirfd.ErrEscape, want: "l symlink $BASE/outside", naive: true},
		{name: "inroot-absolute-symlink-stays-inside", inRoot: true, noNaive: true, members: []member{dir("inner"), sym("l", "/inner"), f("l/evil", "x")},
			want: "l symlink /inner\ninner dir 0755\ninner/evil file 0644 1 x"},
		{name: "beneath-absolute-symlink-refused", members: []member{dir("inner"), sym("l", "/inner"), f("l/evil", "x")},
			wantErr: dirfd.ErrEscape, want: "l symlink /inner\ninner dir 0755"},
		{name: "existing-symlink-then-file-through-it", setup: "symlink dst/l ../outside", members: []member{f("l/evil", "x")},
			wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "existing-symlink-then-file-over-it", setup: "symlink dst/l ../outside/f", members: []member{f("l", "x")},
			want: "l file 0644 1 x", naive: true},
		{name: "existing-absolute-symlink-then-file-over-it", setup: "symlink dst/l $BASE/outside/secret", members: []member{f("l", "x")},
			want: "l file 0644 1 x", naive: true},
		{name: "symlink-chain-out", members: []member{sym("a", "b"), sym("b", "../outside"), f("a/evil", "x")},
			wantErr: dirfd.ErrEscape, want: "a symlink b\nb symlink ../outside", naive: true},
		{name: "symlink-chain-inside", members: []member{dir("c"), sym("a", "b"), sym("b", "c/"), f("a/f", "x")},
			want: "a symlink b\nb symlink c/\nc dir 0755\nc/f file 0644 1 x"},
		{name: "symlink-loop", members: []member{sym("a", "b"), sym("b", "a"), f("a/f", "x")},
			wantErr: syscall.ELOOP, want: "a symlink b\nb symlink a"},
		{name: "escaping-symlink-stored-as-given", members: []member{sym("s", "../../etc/passwd")}, want: "s symlink ../../etc/passwd"},
		{name: "directory-then-symlink-over-it", members: []member{dir("d"), sym("d", "../outside"), f("d/evil", "x")},
			wantErr: syscall.EISDIR, want: "d dir 0755", naive: true},
		{name: "symlink-then-directory-over-it", members: []member{sym("x", "../outside"), dir("x"), f("x/evil", "e")},
			want: "x dir 0755\nx/evil file 0644 1 e", naive: true},
		{name: "existing-symlink-then-directory-over-it", setup: "symlink dst/l ../outside", members: []member{dir("l"), f("l/evil", "x")},
			want: "l dir 0755\nl/evil file 0644 1 x", naive: true},
		{name: "directory-through-existing-symlink", setup: "symlink dst/l ../outside", members: []member{dir("l/newsub")},
			wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "existing-fifo-replaced-never-opened", setup: "fifo dst/p", noNaive: true, members: []member{f("p", "x")}, want: "p file 0644 1 x"},

		// Hard links.
		{name: "hardlink-outside", members: []member{hard("x", "../outside/secret")}, wantErr: dirfd.ErrEscape, naive: true},
		{name: "hardlink-absolute-stripped", members: []member{hard("x", "$BASE/outside/secret")}, wantErr: os.ErrNotExist},
		{name: "hardlink-through-symlink", members: []member{sym("l", "../outside"), hard("x", "l/secret")},
			wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "hardlink-through-existing-absolute-symlink", setup: "symlink dst/l $BASE/outside", members: []member{hard("x", "l/secret")},
			wantErr: dirfd.ErrEscape, want: "l symlink $BASE/outside", naive: true},
		{name: "hardlink-name-through-symlink", members: []member{f("t", "x"), sym("l", "../outside"), hard("l/x", "t")},
			wantErr: dirfd.ErrEscape, want: "t file 0644 1 x\nl symlink ../outside", naive: true},
		{name: "hardlink-to-directory", members: []member{dir("d"), hard("x", "d")}, wantErr: syscall.EPERM, want: "d dir 0755"},
		{name: "hardlink-to-itself", members: []member{f("a", "x"), hard("a", "a")}, want: "a file 0644 1 x"},
		{name: "hardlink-to-symlink-links-the-symlink", members: []member{sym("s", "../outside/secret"), hard("x", "s")},
			want: "s symlink ../outside/secret\nx symlink ../outside/secret"},
		{name: "hardlink-then-write-to-its-name", members: []member{f("f1", "one"), hard("h", "f1"), f("h", "two")},
			want: "f1 file 0644 1 one\nh file 0644 1 two"},
		{name: "existing-hardlink-to-outside-then-write", setup: "dir private\nfile private/secret p\nlink dst/h private/secret",
			members: []member{f("h", "x")}, want: "h file 0644 1 x", naive: true, private: "p"},
		{name: "inroot-hardlink-through-absolute-symlink", inRoot: true, noNaive: true, setup: "symlink dst/l /",
			members: []member{f("t", "x"), hard("h", "l/t")}, want: "l symlink /\nt file 0644 2 x\nh file 0644 2 x"},

		// Special files, set-ID bits, directory modes.
		{name: "char-device-skipped", members: []member{{kind: 'c', name: "null"}}},
		{name: "fifo-skipped", members: []member{{kind: 'p', name: "p"}}},
		{name: "unknown-type-skipped", members: []member{{kind: 'x', name: "vol"}}},
		{name: "fifo-made-with-devices", opts: []extract.Option{extract.Devices()}, members: []member{{kind: 'p', name: "p"}}, want: "p fifo 0644"},
		{name: "char-device-made-with-devices", root: true, opts: []extract.Option{extract.Devices()}, members: []member{{kind: 'c', name: "null"}},
			want: "null other Dcrw-rw-rw-"},
		{name: "setuid-stripped", members: []member{withMode(f("s", "x"), 0o4755)}, want: "s file 0755 1 x"},
		{name: "setuid-stripped-without-owners", opts: []extract.Option{extract.SetID()}, members: []member{withMode(f("s", "x"), 0o4755)},
			want: "s file 0755 1 x"},
		{name: "setuid-kept-with-owners", root: true, tarOnly: true, opts: []extract.Option{extract.SetID(), extract.Owners()},
			members: []member{withMode(f("s", "x"), 0o6755)}, want: "s file 6755 1 x"},
		{name: "setgid-directory-stripped", members: []member{withMode(dir("g"), 0o2775)}, want: "g dir 0775"},
		{name: "sticky-kept", members: []member{withMode(dir("tmp"), 0o1777)}, want: "tmp dir 1777"},
		{name: "read-only-directory-filled", members: []member{withMode(dir("ro"), 0o555), f("ro/f", "x")},
			want: "ro dir 0555\nro/f file 0644 1 x"},
		{name: "top-directory-entry-sets-dst-mode", members: []member{withMode(dir("."), 0o700), f("a", "x")},
			want: ". dir 0700\na file 0644 1 x"},

		// Whiteouts.
		{name: "whiteout-dotdot", whiteouts: true, opts: []extract.Option{extract.Whiteouts()}, members: []member{f("../.wh.outside", "")},
			wantErr: dirfd.ErrEscape, naive: true},
		{name: "whiteout-through-existing-symlink", whiteouts: true, setup: "symlink dst/l ../outside", opts: []extract.Option{extract.Whiteouts()},
			members: []member{f("l/.wh.secret", "")}, wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "opaque-whiteout-through-existing-symlink", whiteouts: true, setup: "symlink dst/l ../outside", opts: []extract.Option{extract.Whiteouts()},
			members: []member{f("l/.wh..wh..opq", "")}, wantErr: dirfd.ErrEscape, want: "l symlink ../outside", naive: true},
		{name: "whiteout-of-dot-dot", noNaive: true, opts: []extract.Option{extract.Whiteouts()}, members: []member{f(".wh..", "")},
			wantErr: os.ErrInvalid},
		{name: "whiteouts-applied", setup: "file dst/old o\ndir dst/d\nfile dst/d/x x\nsymlink dst/d/y ../../outside",
			opts:    []extract.Option{extract.Whiteouts()},
			members: []member{f(".wh.old", ""), f("d/.wh..wh..opq", ""), f("d/z", "z"), f("n", "n"), f(".wh.n", "")},
			want:    "d dir 0755\nd/z file 0644 1 z\nn file 0644 1 n"},
		{name: "whiteouts-are-files-without-the-option", members: []member{f(".wh.old", "w")}, want: ".wh.old file 0644 1 w"},

		// Bombs.
		{name: "size-bomb", opts: []extract.Option{extract.Limits(0, 1024)}, members: []member{f("small", "x"), f("big", strings.Repeat("b", 2048))},
			wantErr: extract.ErrLimit, want: "small file 0644 1 x"},
		{name: "count-bomb", opts: []extract.Option{extract.Limits(3, 0)},
			members: []member{f("1", "1"), f("2", "2"), f("3", "3"), f("4", "4"), f("5", "5")},
			wantErr: extract.ErrLimit, want: "1 file 0644 1 1\n2 file 0644 1 2\n3 file 0644 1 3"},
		// The directories an entry's name makes on its way count: one
		// entry a thousand levels deep is a thousand directories, and
		// the limit stops their making at 4 objects with the entry.
		{name: "deep-name-bomb", opts: []extract.Option{extract.Limits(4, 0)},
			members: []member{f("a", "a"), f(strings.Repeat("d/", 1000)+"f", "f")},
			wantErr: extract.ErrLimit, want: "a file 0644 1 a\nd dir 0755\nd/d dir 0755"},
		{name: "deep-name-within-the-limit", opts: []extract.Option{extract.Limits(4, 0)},
			members: []member{f("d/e/f", "f")},
			want:    "d dir 0755\nd/e dir 0755\nd/e/f file 0644 1 f"},
		{name: "name-past-path-max", noNaive: true, members: []member{f(strings.Repeat("d/", 2048)+"f", "f")},
			wantErr: syscall.ENAMETOOLONG},
	}
	return append(cases, duplicatePairs()...)
}

// duplicatePairs are the cases of two entries with one name, for every
// pair of types: a later entry replaces an earlier non-directory (a
// directory only by a directory, which keeps it), never through it.
func duplicatePairs() []breakout {
	first := map[byte]member{'f': f("x", "one"), 'd': dir("x"), 'l': sym("x", "t"), 'h': hard("x", "t")}
	second := map[byte]member{'f': f("x", "two"), 'd': dir("x"), 'l': sym("x", "t2"), 'h': hard("x", "t2")}
	result := map[byte]string{'f': "x file 0644 1 two", 'd': "x dir 0755", 'l': "x symlink t2", 'h': "x file 0644 2 t2"}
	var cases []breakout
	for _, a := range []byte("fdlh") {
		for _, b := range []byte("fdlh") {
			c := breakout{
				name:    fmt.Sprintf("duplicate-%c-then-%c", a, b),
				members: []member{f("t", "t"), f("t2", "t2"), first[a], second[b]},
				want:    result[b],
			}
			t2Links := 1
			switch {
			case a == 'd' && b != 'd':
				c.wantErr, c.want = syscall.EISDIR, "x dir 0755"
			case b == 'h':
				t2Links = 2
			}
			c.want += fmt.Sprintf("\nt file 0644 1 t\nt2 file 0644 %d t2", t2Links)
			cases = append(cases, c)
		}
	}
	return cases
}

// TestBreakoutCorpus extracts every case of the corpus, as tar and as zip,
// and checks that nothing outside dst changed (the sentinel tree, compared
// with go-cmp) and that dst holds the documented result; then it runs the
// naive extractor on the cases marked naive and checks that the corpus
// catches it escaping there.
func TestBreakoutCorpus(t *testing.T) {
	archives, caught := 0, 0
	for _, c := range breakouts() {
		formats := []string{"tar", "zip"}
		switch {
		case c.zipOnly:
			formats = formats[1:]
		case c.tarOnly || zipOf(t, "", c.members) == nil:
			formats = formats[:1]
		}
		for _, format := range formats {
			archives++
			t.Run(format+"/"+c.name, func(t *testing.T) {
				if c.root && os.Geteuid() != 0 {
					t.Skip("needs root (devices, owners)")
				}
				s := newScene(t, c.setup)
				data := archiveOf(t, format, s.base, c.members)
				var opts []dirfd.Option
				if c.inRoot {
					opts = append(opts, dirfd.InRoot())
				}
				d, err := dirfd.Open(s.dst, opts...)
				if err != nil {
					t.Fatal(err)
				}
				_, err = extractFormat(format, d, data, c.opts...)
				d.Close()
				if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
					t.Errorf("extract: %v, want %v", err, c.wantErr)
				}
				if d := s.escaped(t, c.private); d != "" {
					t.Errorf("changed outside dst (-before +after):\n%s", d)
				}
				want := treeOf(strings.ReplaceAll(c.want, "$BASE", s.base))
				if diff := cmp.Diff(want, describe(t, s.dst, false)); diff != "" {
					t.Errorf("dst (-want +got):\n%s", diff)
				}
			})
			if !c.naive || c.noNaive || c.whiteouts && format == "zip" {
				continue
			}
			t.Run("naive/"+format+"/"+c.name, func(t *testing.T) {
				s := newScene(t, c.setup)
				data := archiveOf(t, format, s.base, c.members)
				naiveExtract(format, s.dst, data, c.whiteouts)
				if s.escaped(t, c.private) == "" {
					t.Errorf("the naive extractor was not caught escaping: the case proves nothing")
					return
				}
				caught++
			})
		}
	}
	if archives < 40 {
		t.Errorf("the corpus has %d archives, want at least 40", archives)
	}
	t.Logf("%d archives; the naive extractor was caught escaping on %d", archives, caught)
}

func archiveOf(t *testing.T, format, base string, members []member) []byte {
	if format == "zip" {
		return zipOf(t, base, members)
	}
	return tarOf(t, base, members)
}

func extractFormat(format string, d *dirfd.Dir, data []byte, opts ...extract.Option) (extract.Stats, error) {
	if format == "zip" {
		return extract.Zip(d, bytes.NewReader(data), int64(len(data)), opts...)
	}
	return extract.Tar(d, bytes.NewReader(data), opts...)
}

// naiveExtract runs the naive extractor; its errors do not matter, only
// what it changed.
func naiveExtract(format, dst string, data []byte, whiteouts bool) {
	if format == "zip" {
		naive.Zip(dst, data)
		return
	}
	naive.Tar(dst, bytes.NewReader(data), whiteouts)
}
