package main

// Profiles the mutated line is taken in (RACEFREE_DISABLE).
var (
	walk     = []string{"RACEFREE_DISABLE=openat2"}
	portable = []string{"RACEFREE_DISABLE=all"}
	noRename = []string{"RACEFREE_DISABLE=rename_noreplace,rename_exchange,rename_whiteout"}
	here     = []string{"RACEFREE_FSTESTS_HERE=tempdir"}
)

// mutants is the curated list: each entry is a bug in a line that bears a
// guarantee (DESIGN.md G1-G6, S1-S8), and the tests that must catch it.
// Adding one is adding an entry; keep Run narrow, so that each takes a
// minute or less.
var mutants = []mutant{
	// G1: the resolver.
	{
		Name: "walk: apply .. by opening .. (no restart from the root)",
		File: "dirfd/walk_unix.go",
		Orig: `
			} else {
				parts = slices.Delete(parts, i-1, i+1)
				restarts++
				setDir(root)
				i = 0
			}`,
		Repl: `
			} else {
				fd, err := openat(dirfd, "..", d.sys.dirFlags, 0)
				if err != nil {
					return -1, err
				}
				parts = slices.Delete(parts, i-1, i+1)
				setDir(fd)
				i--
			}`,
		Pkg: "./dirfd", Run: "^TestDotDotAfterMoveOutStaysInside$", Env: walk,
	},
	{
		Name: "walk: final component opened without O_NOFOLLOW",
		File: "dirfd/walk_unix.go",
		Orig: "fd, err = openat(dirfd, part, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)",
		Repl: "fd, err = openat(dirfd, part, flags|unix.O_CLOEXEC, perm)",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$", Env: walk,
	},
	{
		Name: "walk: directories opened without O_NOFOLLOW (O_PATH walk)",
		File: "dirfd/sys_linux.go",
		Orig: "s.dirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "s.dirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$", Env: walk,
	},
	{
		Name: "walk: directories opened without O_NOFOLLOW (portable walk)",
		File: "dirfd/sys_linux.go",
		Orig: "s.dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "s.dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$", Env: portable,
	},
	{
		Name: "openat2: RESOLVE_BENEATH dropped",
		File: "dirfd/sys_linux.go",
		Orig: "s.resolve |= unix.RESOLVE_BENEATH",
		Repl: "s.resolve |= 0",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$",
	},
	{
		Name: "openat2: RESOLVE_IN_ROOT dropped",
		File: "dirfd/sys_linux.go",
		Orig: "s.resolve |= unix.RESOLVE_IN_ROOT",
		Repl: "s.resolve |= unix.RESOLVE_BENEATH",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$",
	},
	{
		Name: "openat2: RESOLVE_NO_SYMLINKS dropped",
		File: "dirfd/sys_linux.go",
		Orig: "s.resolve |= unix.RESOLVE_NO_SYMLINKS",
		Repl: "s.resolve |= 0",
		Pkg:  "./dirfd", Run: "^TestEscapeTable$",
	},
	{
		Name: "openat2: RESOLVE_NO_XDEV dropped",
		File: "dirfd/sys_linux.go",
		Orig: "s.resolve |= unix.RESOLVE_NO_XDEV",
		Repl: "s.resolve |= 0",
		Pkg:  "./fstests", Run: "^TestHere$/^conformance$/^NoXDev$", Env: here,
	},

	{
		Name: "walk: an absolute symlink followed under Beneath",
		File: "dirfd/walk_unix.go",
		Orig: `
			if tabs {
				if d.cfg.mode == modeBeneath {
					return 0, ErrEscape
				}`,
		Repl: `
			if tabs {
				if false {
					return 0, ErrEscape
				}`,
		Pkg: "./dirfd", Run: "^TestEscapeTable$", Env: walk,
	},
	{
		Name: "walk: .. at the top allowed under Beneath",
		File: "dirfd/walk_unix.go",
		Orig: `
			if i == 0 {
				if d.cfg.mode == modeBeneath {
					return -1, ErrEscape
				}`,
		Repl: `
			if i == 0 {
				if false {
					return -1, ErrEscape
				}`,
		Pkg: "./dirfd", Run: "^TestEscapeTable$", Env: walk,
	},
	{
		Name: "walk: NoXDev not checked on the final object",
		File: "dirfd/walk_unix.go",
		Orig: "if d.cfg.noXDev && uint64(st.Dev) != d.dev {",
		Repl: "if false && uint64(st.Dev) != d.dev {",
		Pkg:  "./fstests", Run: "^TestHere$/^conformance$/^NoXDev$", Env: append(append([]string{}, walk...), here...),
	},

	// G1: recursive removal.
	{
		Name: "RemoveAll: directories entered without O_NOFOLLOW",
		File: "unlinkat/removeall_unix.go",
		Orig: "dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^cleaner$", Env: here,
	},

	{
		Name: "RemoveAll: climbs back through .. without checking where it led",
		File: "unlinkat/removeall_unix.go",
		Orig: "if err == nil && id != parent.id {",
		Repl: "if err == nil && id != id {",
		Pkg:  "./unlinkat", Run: "^TestRemoveAllStopsWhenADirectoryWasMoved$",
	},
	{
		Name: "RemoveAll: crosses mount points",
		File: "unlinkat/removeall_unix.go",
		Orig: "if err == nil && (id.dev != r.top.dev || id.mnt != r.top.mnt) {",
		Repl: "if err == nil && false {",
		Pkg:  "./unlinkat", Run: "^TestRemoveAllLeavesMountsAlone$", Root: true,
	},

	// opath: Reopen goes through the descriptor, never the name.
	{
		Name: "Reopen: by the handle's name instead of through procfs",
		File: "opath/handle_linux.go",
		Orig: "f, err := pathrs.Reopen(h.f, flag|unix.O_CLOEXEC)",
		Repl: "f, err := os.OpenFile(h.Name(), flag|unix.O_CLOEXEC, 0); _ = pathrs.Reopen",
		Pkg:  "./opath", Run: "^TestHandleReopen$",
	},

	// G3: identity.
	{
		Name: "IfSame: identity is the device alone",
		File: "fallback/compare_unix.go",
		Orig: "return a.Dev == b.Dev && a.Ino == b.Ino",
		Repl: "return a.Dev == b.Dev",
		Pkg:  "./dirfd", Run: "^(TestRemoveIfSameChanged|TestRenameIfSameChanged)$",
	},

	// No-replace emulation (link+unlink).
	{
		Name: "no-replace emulation: rename(2), which replaces",
		File: "fallback/linkunlink_unix.go",
		Orig: "err := eintr.Retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0) })",
		Repl: "err := eintr.Retry(func() error { return unix.Renameat(olddirfd, oldname, newdirfd, newname) })",
		Pkg:  "./renameat2", Run: "^TestNoReplaceRefusesExistingName$", Env: noRename,
	},

	// G2/G5: Install publishes with one exchange.
	{
		Name: "Install: exchange emulated by two renames (the name is missing between them)",
		File: "dirfd/install_unix.go",
		Orig: "err = renameat2.Rename(stage.Fd, stagedTree, in.parent, in.last, renameat2.Exchange)",
		Repl: `if err = renameat2.Rename(in.parent, in.last, stage.Fd, stagedTree+".old", 0); err == nil {
			err = renameat2.Rename(stage.Fd, stagedTree, in.parent, in.last, 0)
			if err == nil {
				err = renameat2.Rename(stage.Fd, stagedTree+".old", stage.Fd, stagedTree, 0)
			}
		}`,
		Pkg: "./dirfd", Run: "^TestInstallSurvivesSIGKILL$/^direct$",
	},

	// G4: close-on-exec, per family of descriptors.
	{
		Name: "O_CLOEXEC: openat2 opens without it",
		File: "dirfd/sys_linux.go",
		Orig: "how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: d.sys.resolve}",
		Repl: "how := unix.OpenHow{Flags: uint64(flags), Resolve: d.sys.resolve}",
		Pkg:  "./dirfd", Run: "^TestDescriptorsCloseOnExec$",
	},
	{
		Name: "O_CLOEXEC: FromFile duplicates with F_DUPFD",
		File: "dirfd/open_unix.go",
		Orig: "fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)",
		Repl: "fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD, 0)",
		Pkg:  "./dirfd", Run: "^TestDescriptorsCloseOnExec$",
	},
	{
		Name: "O_CLOEXEC: Reopen of a directory without it",
		File: "opath/handle_linux.go",
		Orig: `return unix.Openat(fd, ".", flag|unix.O_CLOEXEC, 0)`,
		Repl: `return unix.Openat(fd, ".", flag, 0)`,
		Pkg:  "./dirfd", Run: "^TestDescriptorsCloseOnExec$",
	},
	{
		Name: "O_CLOEXEC: RemoveAll's directories without it",
		File: "unlinkat/removeall_unix.go",
		Orig: "dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^leak$", Env: here,
	},

	// G6: the capability probe, per family of features, in both
	// directions (a feature hidden, a feature claimed).
	{
		Name: "probe: openat2 reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("openat2 with RESOLVE_BENEATH/IN_ROOT/NO_SYMLINKS/NO_XDEV/NO_MAGICLINKS")`,
		Repl: `return missing("openat2 hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: o_path reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("O_PATH descriptors")`,
		Repl: `return missing("O_PATH hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: o_tmpfile reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("kernel has O_TMPFILE; each filesystem is confirmed on first use")`,
		Repl: `return missing("O_TMPFILE hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: link_empty_path reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("linkat(AT_EMPTY_PATH) for this process's credentials")`,
		Repl: `return missing("AT_EMPTY_PATH hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: link_proc_fd reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("through filepath-securejoin's hardened procfs")`,
		Repl: `return missing("procfs hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: rename flags reported missing",
		File: "capability/probe_linux.go",
		Orig: "case unix.ENOENT:",
		Repl: "case unix.ENOTDIR:",
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: close_range_cloexec reported missing",
		File: "capability/probe_linux.go",
		Orig: `return have("close_range(CLOSE_RANGE_CLOEXEC)")`,
		Repl: `return missing("close_range hidden")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: fchmodat2 answer inverted",
		File: "capability/probe_linux.go",
		Orig: "if e == unix.EBADF {",
		Repl: "if e != unix.EBADF {",
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: funlinkat claimed on Linux",
		File: "capability/probe_linux.go",
		Orig: `return missing("FreeBSD only")`,
		Repl: `return have("FreeBSD only")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
	{
		Name: "probe: o_nofollow_any claimed on Linux",
		File: "capability/probe_linux.go",
		Orig: `return missing("macOS only (Linux uses openat2)")`,
		Repl: `return have("macOS only (Linux uses openat2)")`,
		Pkg:  "./capability", Run: "^TestReportMatchesTheKernel$",
	},
}
