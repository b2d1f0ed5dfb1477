package capability

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
)

// DetailConfirmed is the Detail ProbeDir gives a per-filesystem feature it
// tried successfully on the directory's filesystem.
const DetailConfirmed = "confirmed on this filesystem"

// tmpfileName is the name the o_tmpfile trial gives its unnamed file; the
// other trials use "a" to "d" (staging.ProbeNames lists them all).
const tmpfileName = "t"

// ProbeDir actively probes the per-filesystem features (o_tmpfile,
// rename_noreplace, rename_exchange, rename_whiteout) on the filesystem of
// the directory dirfd refers to, and returns ForDir for that filesystem.
//
// It works in a private scratch directory it creates in dirfd (mode 0700,
// named ".racefree-probe-" and random hex), opens without following
// symlinks and checks (an empty directory of ours, mode 0700, on the same
// device) before using it, through its descriptor only. Because the probe
// owns every object involved, an "unsupported" errno (EINVAL included) is
// unambiguous there: the feature is recorded missing for that filesystem
// with MarkMissing, and every later HasAt and ForDir for the mount says
// so (a feature confirmed there forgets an earlier mark). A feature that worked has Detail DetailConfirmed. A feature that
// failed for another reason (EPERM, ENOSPC, ...) is left as the kernel
// report has it, with the failure noted in its Detail.
//
// o_tmpfile is confirmed only once the unnamed file has also been given a
// name in the scratch directory, because that is what the feature is for
// (dirfd's atomic writes link their unnamed file into place at Commit):
// some FUSE and network filesystems open O_TMPFILE but refuse the link.
// Such a filesystem is marked missing o_tmpfile, with the errno in the
// Detail, when the link fails with EXDEV or an unsupported errno, or with
// an EPERM that can only be the filesystem's (see tmpfileLinkVerdict).
//
// Features the process report already lacks (the kernel has not got them,
// or RACEFREE_DISABLE names them) are not tried. Everything ProbeDir
// creates is removed before it returns, on every path. It needs write and
// search permission on the directory; without them it returns the report
// as known so far and an error.
func ProbeDir(dirfd int) (Report, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(dirfd, &st) }); err != nil {
		return Probe(), &fs.PathError{Op: "fstat", Path: fmt.Sprintf("fd %d", dirfd), Err: err}
	}
	dev := uint64(st.Dev)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return ForDir(dirfd), &fs.PathError{Op: "probe", Path: fmt.Sprintf("fd %d", dirfd), Err: unix.ENOTDIR}
	}
	notes, err := probeScratch(dirfd, dev)
	for f, note := range notes {
		if note == DetailConfirmed {
			forget(dirfd, f) // a mark learned on a mount that had this one's ID before
		}
	}
	r := ForDir(dirfd)
	for i, s := range r.statuses {
		if note, ok := notes[s.Feature]; ok && s.Available {
			r.statuses[i].Detail = note
		}
	}
	return r, err
}

// probeScratch creates the scratch directory, runs the feature trials in it
// and removes it. It returns, per feature tried and not found missing,
// the Detail to report.
//
// The scratch directory is a private one (internal/staging, kind Probe),
// born verified (DESIGN.md S1): made with a 128-bit random name, opened
// without following symlinks and used only if it is an empty directory of
// ours, of mode 0700, on this device. Between mkdirat and openat another
// user with write access to dirfd could exchange it with any other entry,
// a private directory of ours included; the trials would then create and
// remove names in that directory, so anything else is left as found.
func probeScratch(dirfd int, dev uint64) (map[Feature]string, error) {
	s, err := staging.Create(dirfd, staging.Probe)
	if err != nil {
		return nil, &fs.PathError{Op: "mkdirat", Path: staging.Probe.Prefix() + "*", Err: err}
	}
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(s.Fd, &st) }); err != nil || uint64(st.Dev) != dev {
		// A mount point under the name: not the filesystem to probe.
		s.Close()
		return nil, &fs.PathError{Op: "probe", Path: s.Name, Err: errors.New("scratch directory is not on the directory's device; left in place")}
	}
	defer s.Remove()
	defer removeProbeNames(s.Fd)
	return tryFeatures(s.Fd, dirfd), nil
}

// tryFeatures runs the trials inside the scratch directory fd.
func tryFeatures(fd, dirfd int) map[Feature]string {
	notes := map[Feature]string{}
	// record files the outcome of one trial: nil is a confirmation, an
	// unsupported errno marks the filesystem missing the feature, anything
	// else is noted without changing availability.
	record := func(f Feature, what string, err error) {
		switch {
		case err == nil:
			notes[f] = DetailConfirmed
		case Unsupported(err):
			MarkMissing(dirfd, f, fmt.Sprintf("%s: %v (on this filesystem)", what, err))
		default:
			notes[f] = fmt.Sprintf("not confirmed on this filesystem: %s: %v", what, err)
		}
	}

	if Has(OTmpfile) {
		tfd, err := eintr.Retry1(func() (int, error) {
			return unix.Openat(fd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		})
		if err != nil {
			record(OTmpfile, "open(O_TMPFILE)", err)
		} else {
			missing, detail := tryTmpfileLink(tfd, fd)
			unix.Close(tfd)
			switch {
			case missing:
				MarkMissing(dirfd, OTmpfile, detail)
			case detail != "":
				notes[OTmpfile] = "not confirmed on this filesystem: " + detail
			default:
				notes[OTmpfile] = DetailConfirmed
			}
		}
	}

	need := Has(RenameExchange) || Has(RenameNoReplace) || Has(RenameWhiteout)
	if !need {
		return notes
	}
	for _, n := range []string{"a", "b"} {
		if err := createEmpty(fd, n); err != nil {
			for _, f := range []Feature{RenameExchange, RenameNoReplace, RenameWhiteout} {
				if Has(f) {
					notes[f] = fmt.Sprintf("not confirmed on this filesystem: creating a scratch file: %v", err)
				}
			}
			return notes
		}
	}

	if Has(RenameExchange) {
		a, errA := inode(fd, "a")
		b, errB := inode(fd, "b")
		err := errors.Join(errA, errB)
		if err == nil {
			err = renameat2(fd, "a", "b", unix.RENAME_EXCHANGE)
		}
		if err == nil {
			// Trust but verify: the names must now refer to each other's inode.
			a2, errA := inode(fd, "a")
			b2, errB := inode(fd, "b")
			if err = errors.Join(errA, errB); err == nil && (a2 != b || b2 != a) {
				err = errors.New("reported success but did not swap the names")
			}
		}
		record(RenameExchange, "renameat2(RENAME_EXCHANGE)", err)
	}

	if Has(RenameNoReplace) {
		// The flag must refuse an existing target, then allow a new one.
		err := renameat2(fd, "a", "b", unix.RENAME_NOREPLACE)
		switch {
		case err == nil:
			MarkMissing(dirfd, RenameNoReplace, "renameat2(RENAME_NOREPLACE) replaced an existing name (on this filesystem)")
			err = createEmpty(fd, "a") // for the whiteout trial
			if err != nil {
				notes[RenameWhiteout] = fmt.Sprintf("not confirmed on this filesystem: creating a scratch file: %v", err)
			}
		case err == unix.EEXIST:
			record(RenameNoReplace, "renameat2(RENAME_NOREPLACE)", renameat2(fd, "a", "c", unix.RENAME_NOREPLACE))
		default:
			record(RenameNoReplace, "renameat2(RENAME_NOREPLACE)", err)
		}
	}

	if Has(RenameWhiteout) {
		src := "a"
		if _, err := inode(fd, src); err != nil {
			src = "c" // renamed there by the no-replace trial
		}
		// The source name must be left as a whiteout (a 0:0 character device).
		err := renameat2(fd, src, "d", unix.RENAME_WHITEOUT)
		if err == nil {
			var st unix.Stat_t
			err = eintr.Retry(func() error { return unix.Fstatat(fd, src, &st, unix.AT_SYMLINK_NOFOLLOW) })
			if err == nil && (st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0) {
				err = errors.New("reported success but left no whiteout")
			}
		}
		record(RenameWhiteout, "renameat2(RENAME_WHITEOUT)", err)
	}
	return notes
}

// tryTmpfileLink gives the unnamed file tfd the name tmpfileName in the
// scratch directory fd. It returns "", or whether the failure means that
// the filesystem cannot name unnamed files and what to say about it.
//
// The link is made with AT_EMPTY_PATH whichever route linkat.LinkFd would
// take (the report may leave link_empty_path out, or RACEFREE_DISABLE name
// it): the filesystem answers the same for either, since both routes hand
// it the same inode and the same target directory on the same mount;
// they differ only in how the kernel finds the file and in who may ask,
// which tmpfileLinkVerdict takes into account.
func tryTmpfileLink(tfd, fd int) (missing bool, detail string) {
	err := eintr.Retry(func() error { return unix.Linkat(tfd, "", fd, tmpfileName, unix.AT_EMPTY_PATH) })
	if err == nil {
		return false, ""
	}
	owner := -1
	var st unix.Stat_t
	if eintr.Retry(func() error { return unix.Fstat(tfd, &st) }) == nil {
		owner = int(st.Uid)
	}
	return tmpfileLinkVerdict(err, owner, unix.Geteuid(), Has(LinkEmptyPath))
}

// tmpfileLinkVerdict decides what err, the failure of linkat(AT_EMPTY_PATH)
// to name an unnamed file that this process has just made in its own
// scratch directory, says about the filesystem. owner is the file's owner
// (-1 if fstat failed), euid this process's, and emptyPathWorks whether
// the process report has link_empty_path, that is, whether this process
// has linked an unnamed file with AT_EMPTY_PATH before (on the temporary
// directory's filesystem). It returns whether the filesystem cannot name
// unnamed files, and the Detail to record or note.
//
// Nobody else can reach the file or the directory, so no other user can
// cause the failure: the question is only whether the filesystem refused,
// or something that holds for this process on every filesystem.
func tmpfileLinkVerdict(err error, owner, euid int, emptyPathWorks bool) (missing bool, detail string) {
	const what = "open(O_TMPFILE) works but linkat(AT_EMPTY_PATH) cannot name the file"
	var errno unix.Errno
	isErrno := errors.As(err, &errno)
	text := err.Error()
	if isErrno && unix.ErrnoName(errno) != "" {
		text = unix.ErrnoName(errno) + " (" + errno.Error() + ")"
	}
	switch {
	case !isErrno:
	case errno == unix.EXDEV || Unsupported(errno):
		// The file was made in the directory, so both are on one mount:
		// EXDEV is the filesystem's answer (a path-based FUSE loopback has
		// no path to link a file that has none), as the unsupported
		// errnos are on objects of our own.
		return true, fmt.Sprintf("%s: %s (on this filesystem)", what, text)
	case errno == unix.ENOENT:
		// The kernel's answer to a caller it does not let link a
		// descriptor (before Linux 6.10, one without CAP_DAC_READ_SEARCH):
		// the filesystem was never asked.
		return false, fmt.Sprintf("linkat(AT_EMPTY_PATH): %s: not allowed to this process, so the filesystem was not asked to name an unnamed file", text)
	case errno == unix.EPERM && owner >= 0 && owner != euid && euid != 0:
		// fs.protected_hardlinks lets only the owner (or CAP_FOWNER) link a
		// file it may not both read and write. The filesystem made the file
		// we created someone else's (a FUSE server that does not give new
		// files to their creator does), so it does the same to every
		// unnamed file of ours, and none can be named.
		return true, fmt.Sprintf("%s: %s: the filesystem made the file owned by uid %d, not by this process (uid %d), and fs.protected_hardlinks refuses to link another's file (on this filesystem)", what, text, owner, euid)
	case errno == unix.EPERM && owner >= 0 && emptyPathWorks:
		// Ours (or root's, with CAP_FOWNER), so protected hardlinks do not
		// apply, and this process has linked an unnamed file with
		// AT_EMPTY_PATH before, so no seccomp filter or privilege rule
		// refuses the call: the filesystem does (the kernel answers EPERM
		// for one that has no link operation at all).
		return true, fmt.Sprintf("%s: %s: refused by the filesystem (on this filesystem)", what, text)
	}
	// ENOSPC, EIO, or an EPERM that may be this process's own (a seccomp
	// filter, or a route never shown to work): nothing is learned.
	return false, fmt.Sprintf("linkat(AT_EMPTY_PATH) of an O_TMPFILE: %s", text)
}

func renameat2(fd int, from, to string, flags uint) error {
	return eintr.Retry(func() error { return unix.Renameat2(fd, from, fd, to, flags) })
}

func createEmpty(dir int, name string) error {
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func inode(dir int, name string) (uint64, error) {
	var st unix.Stat_t
	err := eintr.Retry(func() error { return unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	return st.Ino, err
}

// removeProbeNames removes whatever the trials left in the scratch
// directory. Nobody else can create anything in it (mode 0700, ours), so
// these are the only names there can be.
func removeProbeNames(fd int) {
	for _, n := range staging.ProbeNames {
		eintr.Retry(func() error { return unix.Unlinkat(fd, n, 0) })
	}
}
