//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wantOwner checks the owner and group of path itself.
func wantOwner(t *testing.T, path string, uid, gid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: owner %d:%d (%v), want %d:%d", path, st.Uid, st.Gid, err, uid, gid)
	}
}

func TestChown(t *testing.T) {
	for _, tc := range chownCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func chownCases() []cmdCase {
	j := filepath.Join
	me := fmt.Sprintf("%d:%d", os.Geteuid(), os.Getegid())
	cases := []cmdCase{
		{name: "to the owner it has", tree: modeTree("t"), args: []string{"chown", "-R", me, "t"},
			check: func(t *testing.T, r string) { wantOwner(t, j(r, "t/f"), os.Geteuid(), os.Getegid()) }},
		{name: "an unknown user", args: []string{"chown", "no-such-user", "f"}, code: 2, stderr: []string{"invalid user no-such-user"}},
		{name: "an unknown group", args: []string{"chown", ":no-such-group", "f"}, code: 2, stderr: []string{"invalid group no-such-group"}},
		{name: "no PATH", args: []string{"chown", "0"}, code: 2, stderr: []string{"want OWNER[:GROUP] and at least one PATH"}},
		{name: "a missing PATH", args: []string{"chown", me, "nope"}, code: 1, stderr: []string{"nope: no such file or directory"}},
	}
	if os.Geteuid() != 0 {
		return cases
	}
	outsideKept := func(t *testing.T, r string) { t.Helper(); wantOwner(t, j(r, "outside/secret"), 0, 0) }
	return append(cases,
		cmdCase{name: "one file", tree: modeTree("t"), args: []string{"chown", "65534:65534", "t/f"},
			check: func(t *testing.T, r string) {
				wantOwner(t, j(r, "t/f"), 65534, 65534)
				wantOwner(t, j(r, "t/bin/tool"), 0, 0)
			}},
		cmdCase{name: "a symlink itself, not its target", tree: modeTree("t"), args: []string{"chown", "nobody", "t/out"},
			check: func(t *testing.T, r string) { wantOwner(t, j(r, "t/out"), 65534, 0); outsideKept(t, r) }},
		cmdCase{name: "-R, group only", tree: modeTree("t"), args: []string{"chown", "-R", ":nogroup", "t"},
			check: func(t *testing.T, r string) {
				for _, p := range []string{"t", "t/f", "t/shared/sub/private", "t/out", "t/ld"} {
					wantOwner(t, j(r, p), 0, 65534)
				}
				outsideKept(t, r)
			}},
		cmdCase{name: "-R through --in-root", tree: modeTree("t"), args: []string{"chown", "-R", "--in-root", "t", "nobody:", "/shared", "../../bin"},
			check: func(t *testing.T, r string) {
				wantOwner(t, j(r, "t/shared/sub/private"), 65534, 65534)
				wantOwner(t, j(r, "t/bin/suid"), 65534, 65534)
				wantOwner(t, j(r, "t/f"), 0, 0)
			}},
		cmdCase{name: "--root refuses an escape", tree: modeTree("t"), args: []string{"chown", "-R", "--root", "t", "nobody", "out/"},
			code: 1, stderr: []string{"out/: leads out of t (--root), refused"}, check: outsideKept},
	)
}

// TestChownTreeMatchesCoreutils runs chown -R -h (coreutils) and racefree
// chown -R on two copies of one tree and compares them. Objects that
// already have the owner are left out of the fixture's set-ID files:
// coreutils calls chown(2) on them anyway, which clears their set-ID bits,
// and racefree, spending no call, keeps them.
func TestChownTreeMatchesCoreutils(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to other owners needs root")
	}
	for _, owner := range []string{"nobody:nogroup", "65534", ":100", "daemon:"} {
		t.Run(owner, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, append(modeTree("ours"), modeTree("theirs")...)...)
			sh := exec.Command("chown", "-R", "-h", "--", owner, "theirs")
			sh.Dir = root
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("coreutils: %v: %s", err, out)
			}
			r := racefree(t, root, nil, "chown", "-R", owner, "ours")
			r.expect(t, 0, nil, nil)
			if diff := cmp.Diff(snapshot(t, filepath.Join(root, "theirs")), snapshot(t, filepath.Join(root, "ours")), ignoreTimes); diff != "" {
				t.Errorf("racefree chown -R %s differs from coreutils' (-coreutils +racefree):\n%s", owner, diff)
			}
			wantOwner(t, filepath.Join(root, "outside/secret"), 0, 0)
		})
	}
}
