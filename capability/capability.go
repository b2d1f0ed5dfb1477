// Package capability reports which race-free primitives the running kernel,
// and each filesystem it has been tried on, actually provide.
//
// A feature is learned by trying it. The process-wide report probes each
// feature once, lazily, the first time something asks for it, so a program
// that never needs a primitive never pays for its probe. Features whose
// support differs per filesystem (rename flags, O_TMPFILE) are additionally
// learned per device: when a primitive fails there with one of the narrow
// "unsupported" errnos, that device is marked missing for it and the
// fallback is used from then on. Nothing else ever downgrades a feature: an
// attacker who makes one call fail must not be able to switch the library to
// a weaker sequence.
//
// The environment variable RACEFREE_DISABLE (a comma-separated list of
// feature names, or "all") makes the report say "missing", so that every
// fallback can be exercised on a kernel that has everything.
package capability

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// Feature names one primitive. The names are stable: they are used by
// RACEFREE_DISABLE and printed by `racefree caps --json`.
type Feature string

// The features racefree knows about, in the order reports list them.
const (
	Openat2           Feature = "openat2"             // Linux openat2(2) with RESOLVE_* flags
	OPath             Feature = "o_path"              // descriptors that pin an object without opening it for I/O
	OTmpfile          Feature = "o_tmpfile"           // unnamed files (per filesystem)
	LinkEmptyPath     Feature = "link_empty_path"     // linkat(fd, "", AT_EMPTY_PATH) for this process's credentials
	LinkProcFd        Feature = "link_proc_fd"        // linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW through a hardened procfs
	RenameNoReplace   Feature = "rename_noreplace"    // renameat2(RENAME_NOREPLACE) (per filesystem)
	RenameExchange    Feature = "rename_exchange"     // renameat2(RENAME_EXCHANGE) (per filesystem)
	RenameWhiteout    Feature = "rename_whiteout"     // renameat2(RENAME_WHITEOUT) (per filesystem)
	CloseRangeCloexec Feature = "close_range_cloexec" // close_range(CLOSE_RANGE_CLOEXEC)
	Fchmodat2         Feature = "fchmodat2"           // fchmodat2(2), chmod of an O_PATH descriptor without procfs
	Funlinkat         Feature = "funlinkat"           // FreeBSD funlinkat(2): unlink only if the name still refers to a descriptor
	RenameatxNp       Feature = "renameatx_np"        // macOS renameatx_np(2) with RENAME_SWAP and RENAME_EXCL
	OResolveBeneath   Feature = "o_resolve_beneath"   // FreeBSD O_RESOLVE_BENEATH
	ONofollowAny      Feature = "o_nofollow_any"      // macOS O_NOFOLLOW_ANY
)

var all = []Feature{
	Openat2, OPath, OTmpfile, LinkEmptyPath, LinkProcFd,
	RenameNoReplace, RenameExchange, RenameWhiteout, CloseRangeCloexec,
	Fchmodat2, Funlinkat, RenameatxNp, OResolveBeneath, ONofollowAny,
}

// All returns every feature, in report order.
func All() []Feature { return slices.Clone(all) }

// Valid reports whether f is one of the features in All.
func (f Feature) Valid() bool { return slices.Contains(all, f) }

// PerFilesystem reports whether support for f is decided by each filesystem
// rather than by the kernel alone.
func (f Feature) PerFilesystem() bool {
	switch f {
	case OTmpfile, RenameNoReplace, RenameExchange, RenameWhiteout:
		return true
	}
	return false
}

// Status is what a report says about one feature. Detail says why: the errno
// a probe saw, "disabled by RACEFREE_DISABLE", or which route is used.
type Status struct {
	Feature   Feature
	Available bool
	Detail    string
}

// Report is a snapshot of feature support. The zero Report has nothing.
type Report struct {
	statuses []Status
}

// Has reports whether f is available.
func (r Report) Has(f Feature) bool { return r.Status(f).Available }

// Status returns what the report says about f.
func (r Report) Status(f Feature) Status {
	for _, s := range r.statuses {
		if s.Feature == f {
			return s
		}
	}
	return Status{Feature: f, Detail: "unknown feature"}
}

// Features returns every feature's status, in the order of All.
func (r Report) Features() []Status { return slices.Clone(r.statuses) }

// EnvDisable is the environment variable that forces features to "missing".
const EnvDisable = "RACEFREE_DISABLE"

var disabled = sync.OnceValues(func() (map[Feature]bool, []string) {
	set := map[Feature]bool{}
	var unknown []string
	for _, name := range strings.Split(os.Getenv(EnvDisable), ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case name == "all":
			for _, f := range all {
				set[f] = true
			}
		case Feature(name).Valid():
			set[Feature(name)] = true
		default:
			unknown = append(unknown, name)
		}
	}
	return set, unknown
})

// UnknownDisabled returns the names in RACEFREE_DISABLE that are not
// features, so that a tool can warn about a misspelt profile instead of
// silently testing the wrong thing.
func UnknownDisabled() []string {
	_, unknown := disabled()
	return slices.Clone(unknown)
}

const detailDisabled = "disabled by " + EnvDisable

// Disabled reports whether RACEFREE_DISABLE names f (or says "all"): the
// one reason a report may say "missing" for a feature the kernel has. A
// test that compares the report with the kernel uses it to tell a profile
// from a lie.
func Disabled(f Feature) bool {
	set, _ := disabled()
	return set[f]
}

type probed struct {
	once sync.Once
	st   Status
}

var process = func() map[Feature]*probed {
	m := make(map[Feature]*probed, len(all))
	for _, f := range all {
		m[f] = new(probed)
	}
	return m
}()

func processStatus(f Feature) Status {
	p, ok := process[f]
	if !ok {
		return Status{Feature: f, Detail: "unknown feature"}
	}
	p.once.Do(func() {
		if set, _ := disabled(); set[f] {
			p.st = Status{Feature: f, Detail: detailDisabled}
			return
		}
		p.st = probe(f)
		p.st.Feature = f
	})
	return p.st
}

// Has reports whether the kernel provides f for this process. It probes f the
// first time it is asked and answers from memory afterwards.
func Has(f Feature) bool { return processStatus(f).Available }

// Probe returns the process-wide report, probing every feature not probed yet.
func Probe() Report {
	r := Report{statuses: make([]Status, len(all))}
	for i, f := range all {
		r.statuses[i] = processStatus(f)
	}
	return r
}

func have(detail string) Status { return Status{Available: true, Detail: detail} }

func missing(format string, args ...any) Status {
	return Status{Detail: fmt.Sprintf(format, args...)}
}
