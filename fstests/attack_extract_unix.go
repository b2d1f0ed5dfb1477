//go:build unix

package fstests

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
	"github.com/racefree/racefree/internal/naive"
)

// The extraction swap (docker cp into a live container, CVE-2018-15664's
// archive half; every "extract into a directory the tenant controls"): the
// victim unpacks an archive whose entries live under d/ into root, again
// and again, while the attacker exchanges root/d with root/link, a symlink
// to the sentinel tree ("../../SCENE/outside"), as fast as it can. An
// extractor that joins names to a path follows the link, overwrites the
// sentinel's sub/g and creates files in it. extract.Tar must never reach
// it: in a Beneath Dir the link is refused, in an InRoot
// Dir it resolves inside root, and a directory it holds open stays the
// directory it resolved, wherever the attacker renames it inside root.
func init() {
	register(attack{name: "extract-swap", order: 53, run: runExtractSwap})
}

// extractSwapArchive holds entries named like the sentinel's objects, so
// that the naive victim's escapes change it.
func extractSwapArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Two entries only, so that an extraction is quick even on FUSE and
	// the attacker gets to swap between many of them: a file whose
	// directory (made on the way when missing) is the sentinel's sub
	// through the link, where it would replace g; and a new name, which
	// the sentinel's record shows at once even where a FUSE filesystem's
	// cached attributes hide a rewritten file for a while.
	for _, h := range []tar.Header{
		{Name: "d/sub/g", Typeflag: tar.TypeReg, Mode: 0o644, Size: 7},
		{Name: "d/new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 7},
	} {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("fstests: extract-swap archive: %v", err)
		}
		if h.Size > 0 {
			tw.Write([]byte("victim\n"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("fstests: extract-swap archive: %v", err)
	}
	return buf.Bytes()
}

func runExtractSwap(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "d"), 0o777); err != nil {
		t.Fatalf("fstests: extract-swap scene: %v", err)
	}
	// The link climbs above the scene and comes back down by name, as
	// exchange-rel's does.
	if err := os.Symlink(filepath.Join("..", "..", filepath.Base(dir), "outside"), filepath.Join(root, "link")); err != nil {
		t.Fatalf("fstests: extract-swap scene: %v", err)
	}
	s := newSentinel(t, dir)
	archive := extractSwapArchive(t)

	// The racefree victim alternates a Beneath Dir, which must refuse the
	// link, with an InRoot Dir, which must resolve it inside root.
	victims := []func() error{func() error { return naive.Tar(root, bytes.NewReader(archive), false) }}
	if side == Racefree {
		victims = victims[:0]
		for _, opt := range []dirfd.Option{dirfd.Beneath(), dirfd.InRoot()} {
			d, err := dirfd.Open(root, opt)
			if err != nil {
				t.Fatalf("fstests: %v", err)
			}
			defer d.Close()
			victims = append(victims, func() error {
				_, err := extract.Tar(d, bytes.NewReader(archive))
				return err
			})
		}
	}

	var r Result
	var first string
	var noSpace int64
	seen := 0
	at, release := heldDir(t, root)
	defer release()
	sw := startSwapper(at, "d", "link")
	for i := 0; sw.next(b, r.Ops, r.Escapes); i++ {
		r.Ops++
		switch err := victims[i%len(victims)](); {
		case err == nil:
		case side == Naive || exchangeRefused(err):
			r.Refused++
		case outOfSpace(err):
			r.Refused++
			noSpace++
		default:
			t.Errorf("fstests: extract under attack: %v", err)
		}
		// Each extraction that changed the sentinel is one escape.
		if changes := s.changes(); len(changes) > seen {
			r.Escapes++
			if first == "" {
				first = changes[0]
			}
			seen = len(changes)
		}
	}
	sw.halt()

	r.Moves = sw.swaps.Load()
	r.Detail = fmt.Sprintf("%d swaps", r.Moves)
	if noSpace > 0 {
		r.Detail += fmt.Sprintf("; %d refused for lack of space", noSpace)
	}
	if first != "" {
		r.Detail += "; first escape: " + first
	}
	return r
}
