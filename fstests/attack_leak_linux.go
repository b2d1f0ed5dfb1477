package fstests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// The descriptor-leak attack (runc CVE-2024-21626 class: a descriptor
// opened without close-on-exec was inherited by the container's process,
// which reached the host through it). One goroutine keeps calling every
// cheap Dir method that creates descriptors, while the victim loop starts
// children that list what they inherited: a child holding a descriptor of
// the scene is an escape. A descriptor only leaks while it is open, so the
// children are sampling; after every call the opener also checks the whole
// descriptor table, in process, for a scene descriptor without FD_CLOEXEC,
// which catches what the call returned (and anything it left open)
// deterministically. Children are what cost time, so they are the
// victim's operations.
//
// Both detectors look only at descriptors whose path lies in the scene:
// a test binary may have inherited descriptors without close-on-exec from
// whatever started it, and other tests of the process have their own.
//
// The naive control opens with open(2) without O_CLOEXEC. It counts as
// caught only when both detectors saw its leak: each is the other's
// control, and a blind child listing would otherwise pass racefree unseen.
func init() {
	// The bar for a full run: 10,000 children.
	register(attack{name: "leak", order: 60, skip: leakSkip, run: runLeak, floor: 10_000})
}

// leakLister is the program children run to list their descriptors.
const leakLister = "/bin/ls"

func leakSkip() string {
	if _, err := os.Stat(leakLister); err != nil {
		return fmt.Sprintf("the children list their descriptors with %s: %v", leakLister, err)
	}
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		return fmt.Sprintf("descriptors are listed in /proc/self/fd: %v", err)
	}
	return ""
}

// sceneFd is a descriptor of the process that refers to the scene.
type sceneFd struct {
	fd     int
	path   string
	leaked bool // without FD_CLOEXEC
}

func (s sceneFd) String() string {
	if s.leaked {
		return fmt.Sprintf("fd %d -> %s (without FD_CLOEXEC)", s.fd, s.path)
	}
	return fmt.Sprintf("fd %d -> %s", s.fd, s.path)
}

// sceneFds lists the process's descriptors that refer to objects below
// prefix and lack FD_CLOEXEC, or, when all is true, every one of them.
// FD_CLOEXEC is tested first, so that while all is well the check costs a
// listing and one fcntl per descriptor, and no readlink.
func sceneFds(prefix string, all bool) ([]sceneFd, error) {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	var out []sceneFd
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		flags, err := eintr.Retry1(func() (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0) })
		if err != nil {
			continue // closed since it was listed (ours, for the listing)
		}
		leaked := flags&unix.FD_CLOEXEC == 0
		if !leaked && !all {
			continue
		}
		path, err := os.Readlink("/proc/self/fd/" + name)
		if err == nil && inScene(prefix, path) {
			out = append(out, sceneFd{fd: fd, path: path, leaked: leaked})
		}
	}
	return out, nil
}

// inScene reports whether a descriptor's path, as the kernel shows it
// (with " (deleted)" after an unlinked name), is below prefix.
func inScene(prefix, path string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// childFds starts a child that lists the descriptors it inherited, and
// returns those that refer to the scene.
func childFds(prefix string) ([]string, error) {
	cmd := exec.Command(leakLister, "-ln", "/proc/self/fd/")
	cmd.Env = []string{"LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "lr-x------ 1 0 0 64 Jan  2 15:04 5 -> /path"
		before, target, ok := strings.Cut(sc.Text(), " -> ")
		if !ok || !inScene(prefix, target) {
			continue
		}
		fields := strings.Fields(before)
		got = append(got, fmt.Sprintf("fd %s -> %s", fields[len(fields)-1], target))
	}
	return got, sc.Err()
}

// leakOpener is the goroutine that opens descriptors while children start.
type leakOpener struct {
	prefix string
	calls  atomic.Int64
	rounds atomic.Int64
	// noCloexec counts scene descriptors found without FD_CLOEXEC.
	noCloexec atomic.Int64
	noSpace   atomic.Int64 // calls that failed for lack of space
	mu        sync.Mutex
	first     string // the first descriptor without FD_CLOEXEC
	errs      []error
}

// check is run after every call: no descriptor of the scene may lack
// FD_CLOEXEC, in particular none the call has just returned.
func (o *leakOpener) check(call string) {
	o.calls.Add(1)
	fds, err := sceneFds(o.prefix, false)
	if err != nil {
		o.fail(fmt.Errorf("listing descriptors: %w", err))
		return
	}
	if len(fds) == 0 {
		return
	}
	o.noCloexec.Add(int64(len(fds)))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == "" {
		o.first = fmt.Sprintf("%v after %s", fds[0], call)
	}
}

func (o *leakOpener) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.errs) < 5 {
		o.errs = append(o.errs, err)
	}
}

func runLeak(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	prefix, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	root := filepath.Join(dir, "root")
	for _, step := range []func() error{
		func() error { return os.MkdirAll(filepath.Join(root, "dir"), 0o777) },
		func() error { return os.WriteFile(filepath.Join(root, "file"), []byte("data\n"), 0o666) },
		func() error { return os.WriteFile(filepath.Join(root, "dir", "new"), nil, 0o666) },
		func() error { return os.WriteFile(filepath.Join(root, "dir", "w"), nil, 0o666) },
		func() error { return os.Symlink("dir", filepath.Join(root, "link")) },
	} {
		if err := step(); err != nil {
			t.Fatalf("fstests: leak scene: %v", err)
		}
	}

	o := &leakOpener{prefix: prefix}
	naive := &naiveLeaker{path: filepath.Join(root, "file"), held: -1}
	round := func() { naive.round(o) }
	release := func() error { naive.close(); return nil }
	if side == Racefree {
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
		release = d.Close
		round = func() { racefreeLeakRound(o, d) }
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			round()
			o.rounds.Add(1)
		}
	})

	var r Result
	var leaky int64
	var firstChild string
	for b.more(r.Ops, leaky) {
		r.Ops++
		fds, err := childFds(prefix)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("fstests: %v", err)
		}
		if len(fds) > 0 {
			leaky++
			if firstChild == "" {
				firstChild = "a child inherited " + strings.Join(fds, ", ")
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := release(); err != nil {
		t.Errorf("fstests: %v", err)
	}
	for _, err := range o.errs {
		t.Errorf("fstests: leak opener (%s): %v", side, err)
	}
	if o.calls.Load() == 0 {
		t.Errorf("fstests: leak opener (%s) never completed a call", side)
	}

	// Everything the opener opened is closed by now: a scene descriptor
	// still open is one that was lost, and would leak to the next child
	// if it lacked FD_CLOEXEC.
	open, err := sceneFds(prefix, true)
	if err != nil {
		t.Fatalf("fstests: listing descriptors: %v", err)
	}

	noCloexec := o.noCloexec.Load()
	r.Escapes = leaky + noCloexec + int64(len(open))
	r.Moves = o.calls.Load()
	r.Detail = fmt.Sprintf("%d opener calls in %d rounds; %d leaky children; %d descriptors without FD_CLOEXEC",
		o.calls.Load(), o.rounds.Load(), leaky, noCloexec)
	if len(open) > 0 {
		r.Detail += fmt.Sprintf("; left open: %v", open)
	}
	if n := o.noSpace.Load(); n > 0 {
		r.Detail += fmt.Sprintf("; %d calls failed for lack of space", n)
	}
	if side == Naive && (leaky == 0 || noCloexec == 0) {
		r.Escapes = 0
		r.Detail += "; a detector missed the deliberate leak"
	}
	for _, first := range []string{firstChild, o.first} {
		if first != "" {
			r.Detail += "; " + first
		}
	}
	return r
}

// naiveLeaker is the positive control: it opens with open(2) without
// O_CLOEXEC, and keeps each descriptor until the next is open, as a
// program that keeps its log file open does. Every child started meanwhile
// inherits one. A control that closed its descriptor at once would leave
// the children only short windows to sample, too short to be caught
// reliably where each open costs round trips to a server (FUSE); the
// fcntl check after each call sees every one of them anyway.
type naiveLeaker struct {
	path string
	held int
}

func (n *naiveLeaker) round(o *leakOpener) {
	fd, err := eintr.Retry1(func() (int, error) { return unix.Open(n.path, unix.O_RDONLY, 0) })
	if err != nil {
		o.fail(err)
		return
	}
	o.check("open(2)")
	var buf [64]byte
	if _, err := eintr.Retry1(func() (int, error) { return unix.Read(fd, buf[:]) }); err != nil {
		o.fail(err)
	}
	n.close()
	n.held = fd
}

func (n *naiveLeaker) close() {
	if n.held >= 0 {
		unix.Close(n.held)
		n.held = -1
	}
}

// racefreeLeakRound calls the Dir methods that create descriptors, checking
// after each; a descriptor a method returns is checked while it is held.
// Nothing attacks the scene, so every call must succeed, unless the
// filesystem is full (see outOfSpace); a round starts by removing what such
// a failure may have left behind.
func racefreeLeakRound(o *leakOpener, d *dirfd.Dir) {
	done := func(call string, err error) bool {
		if outOfSpace(err) {
			o.noSpace.Add(1)
			return false
		}
		if err != nil {
			o.fail(fmt.Errorf("%s: %w", call, err))
			return false
		}
		o.check(call)
		return true
	}
	closeFile := func(call string, f interface{ Close() error }) {
		if err := f.Close(); err != nil {
			o.fail(fmt.Errorf("%s: close: %w", call, err))
		}
	}

	// What a round left behind when the filesystem was full.
	for _, name := range []string{"dir/hard", "dir/sub", "dir/sl", "dir/sl2"} {
		done("RemoveAll", d.RemoveAll(name))
	}
	if f, err := d.Open("file"); done("Open", err) {
		_, err := f.Read(make([]byte, 64))
		done("Read", err)
		closeFile("Open", f)
	}
	if f, err := d.OpenFile("link/new", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666); done("OpenFile", err) {
		_, err := f.Write([]byte("new\n"))
		done("Write", err)
		closeFile("OpenFile", f)
	}
	if f, err := d.Create("created"); done("Create", err) {
		closeFile("Create", f)
	}
	if sub, err := d.OpenDir("dir"); done("OpenDir", err) {
		done("OpenDir ReadDir", callErr(sub.ReadDir(".")))
		closeFile("OpenDir", sub)
	}
	if sub, err := dirfd.Open(filepath.Join(d.Name(), "dir")); done("dirfd.Open", err) {
		done("dirfd.Open Stat", callErr(sub.Stat("new")))
		closeFile("dirfd.Open", sub)
	}
	if h, err := d.OpenHandle("link"); done("OpenHandle", err) {
		done("Handle.Readlink", callErr(h.Readlink()))
		closeFile("OpenHandle", h)
	}
	if h, err := d.OpenHandle("dir"); done("OpenHandle", err) {
		if f, err := h.Reopen(os.O_RDONLY); done("Handle.Reopen", err) {
			closeFile("Handle.Reopen", f)
		}
		done("Handle.Chmod", h.Chmod(0o777))
		closeFile("OpenHandle", h)
	}
	if done("Link", d.Link("file", "dir/hard")) {
		if h, err := d.OpenHandle("dir/hard"); done("OpenHandle", err) {
			done("RemoveIfSame", d.RemoveIfSame("dir/hard", h))
			closeFile("OpenHandle", h)
		}
	}
	if f, err := d.CreateAtomic("atomic", 0o666); done("CreateAtomic", err) {
		_, err := f.Write([]byte("atomic\n"))
		done("AtomicFile.Write", err)
		done("AtomicFile.Commit", f.Commit())
	}
	done("WriteFile", d.WriteFile("dir/w", []byte("w\n"), 0o666))
	done("ReadFile", callErr(d.ReadFile("file")))
	done("ReadDir", callErr(d.ReadDir("dir")))
	done("Stat", callErr(d.Stat("link/new")))
	done("Lstat", callErr(d.Lstat("link")))
	done("FS ReadFile", callErr(fs.ReadFile(d.FS(), "link/w")))
	done("FS ReadDir", callErr(fs.ReadDir(d.FS(), "dir")))
	if done("Mkdir", d.Mkdir("dir/sub", 0o777)) {
		done("Remove", d.Remove("dir/sub"))
	}
	done("MkdirAll", d.MkdirAll("dir/a/b/c", 0o777))
	done("RemoveAll", d.RemoveAll("dir/a"))
	if done("Symlink", d.Symlink("../file", "dir/sl")) {
		done("Readlink", callErr(d.Readlink("dir/sl")))
		if done("Rename", d.Rename("dir/sl", "dir/sl2")) {
			done("ReplaceSymlink", d.ReplaceSymlink("file", "dir/sl2"))
			done("Remove", d.Remove("dir/sl2"))
		}
	}
	done("Chmod", d.Chmod("link/new", 0o666))
	done("Chtimes", d.Chtimes("file", time.Time{}, time.Now()))
	done("Install", d.Install("tree", func(stage *dirfd.Dir) error {
		f, err := stage.Create("f")
		if err != nil {
			return err
		}
		o.check("Install build Create")
		return errors.Join(f.Close(), stage.Mkdir("d", 0o777))
	}))
	if _, err := d.Stat("../escape"); !errors.Is(err, dirfd.ErrEscape) {
		o.fail(fmt.Errorf("d.Stat(\"../escape\"): got %v, want ErrEscape", err))
	}
	o.check("Stat ../escape")
}

// callErr is the error of a call whose other result does not matter here.
func callErr[T any](_ T, err error) error { return err }
