package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// sentinel is the content of outside/f; any other content means a victim
// wrote outside its root.
var sentinel = []byte("outside")

// demoAttack builds the scene in a fresh temporary directory, runs the
// naive victim and then the racefree one against an attacker that keeps
// exchanging root/dir with root/link (-> ../outside), the docker cp race
// of CVE-2018-15664, and removes the directory again.
func demoAttack(per time.Duration) (r demoReport, err error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return r, fmt.Errorf("uname: %w", err)
	}
	r.kernel = unix.ByteSliceToString(uts.Release[:])

	top, err := os.MkdirTemp("", "racefree-demo-")
	if err != nil {
		return r, err
	}
	defer func() {
		if rmErr := os.RemoveAll(top); err == nil {
			err = rmErr
		}
	}()
	root := filepath.Join(top, "root")
	outsideF := filepath.Join(top, "outside", "f")
	for _, dir := range []string{filepath.Join(root, "dir"), filepath.Dir(outsideF)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return r, err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dir", "f"), []byte("inside"), 0o644); err != nil {
		return r, err
	}
	if err := os.WriteFile(outsideF, sentinel, 0o644); err != nil {
		return r, err
	}
	if err := os.Symlink("../outside", filepath.Join(root, "link")); err != nil {
		return r, err
	}
	rootFd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return r, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	// One exchange up front tells whether the attack can run here at all.
	if err := exchange(rootFd); err != nil {
		if capability.Unsupported(err) {
			return r, fmt.Errorf("the demo needs renameat2(RENAME_EXCHANGE), which %s does not offer: %w", top, err)
		}
		return r, fmt.Errorf("renameat2(RENAME_EXCHANGE): %w", err)
	}

	naive := func() error {
		return os.WriteFile(filepath.Join(root, "dir", "f"), []byte("victim"), 0o644)
	}
	r.naive, err = underAttack("naive os.WriteFile", rootFd, outsideF, per, naive)
	if err != nil {
		return r, err
	}

	d, err := dirfd.Open(root)
	if err != nil {
		return r, err
	}
	defer d.Close()
	guarded := func() error {
		f, err := d.OpenFile("dir/f", os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte("victim"))
		return errors.Join(err, f.Close())
	}
	r.guarded, err = underAttack("racefree dirfd.Dir", rootFd, outsideF, per, guarded)
	return r, err
}

// exchange swaps root/dir and root/link atomically.
func exchange(rootFd int) error {
	return eintr.Retry(func() error {
		return unix.Renameat2(rootFd, "dir", rootFd, "link", unix.RENAME_EXCHANGE)
	})
}

// underAttack runs victim for the duration per while an attacker goroutine
// exchanges root/dir and root/link, and counts the victim's writes that
// reached outsideF (restoring the sentinel each time).
func underAttack(name string, rootFd int, outsideF string, per time.Duration, victim func() error) (s demoSide, err error) {
	s.name = name
	var stop atomic.Bool
	var attackErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if err := exchange(rootFd); err != nil {
				attackErr = fmt.Errorf("attacker: renameat2(RENAME_EXCHANGE): %w", err)
				return
			}
		}
	})
	defer func() {
		stop.Store(true)
		wg.Wait()
		if err == nil {
			err = attackErr
		}
	}()
	for deadline := time.Now().Add(per); time.Now().Before(deadline); {
		s.attempts++
		if victim() != nil {
			s.failed++
		}
		got, err := os.ReadFile(outsideF)
		if err != nil {
			return s, err
		}
		if !bytes.Equal(got, sentinel) {
			s.escapes++
			if err := os.WriteFile(outsideF, sentinel, 0o644); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}
