//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestParseOwnerMatchesCoreutils gives each OWNER[:GROUP] to coreutils'
// chown on a real file (which needs root) and checks that parseOwner asks
// for the same owner and group; every invalid one is refused by both.
func TestParseOwnerMatchesCoreutils(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown(1) to other owners needs root; run the tests as root to compare with coreutils")
	}
	start := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 4321, 8765); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, spec := range []string{
		"root", "0", "nobody", "65534", "+0", "1234", "+65534",
		"nobody:nogroup", "root:0", "0:0", "1234:5678", "+1:+2", "daemon:users",
		":nogroup", ":0", ":+100", ":5678",
		"nobody:", "daemon:", "root:",
	} {
		t.Run(spec, func(t *testing.T) {
			p := start(t)
			if out, err := exec.Command("chown", "--", spec, p).CombinedOutput(); err != nil {
				t.Fatalf("coreutils refuses %q: %v: %s", spec, err, out)
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				t.Fatal(err)
			}
			uid, gid, err := parseOwner(spec)
			if err != nil {
				t.Fatalf("parseOwner(%q): %v", spec, err)
			}
			if uid == -1 {
				uid = 4321
			}
			if gid == -1 {
				gid = 8765
			}
			if uid != int(st.Uid) || gid != int(st.Gid) {
				t.Errorf("parseOwner(%q) = %d:%d, coreutils made it %d:%d", spec, uid, gid, st.Uid, st.Gid)
			}
		})
	}
	for _, spec := range []string{"no-such-user", ":no-such-group", "root:no-such-group", "4294967295", "-1", "+-1", "1234:", "root:a:b"} {
		t.Run("invalid "+spec, func(t *testing.T) {
			if uid, gid, err := parseOwner(spec); err == nil {
				t.Errorf("parseOwner(%q) = %d:%d, want an error", spec, uid, gid)
			}
			if out, err := exec.Command("chown", "--", spec, start(t)).CombinedOutput(); err == nil {
				t.Errorf("coreutils accepts %q (%s): the case is wrong", spec, out)
			}
		})
	}
}
