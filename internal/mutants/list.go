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
				parts = slices.Delete(parts, j, i+1)
				restarts++
			}
			setDir(root)
			i = 0`,
		Repl: `
			} else {
				fd, err := openat(dirfd, "..", d.sys.dirFlags, 0)
				if err != nil {
					return -1, err
				}
				parts = slices.Delete(parts, j, i+1)
				if j >= len(parts) {
					parts = append(parts, ".")
				}
				setDir(fd)
				i = j
				continue
			}
			setDir(root)
			i = 0`,
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
			if j < 0 {
				if d.cfg.mode == modeBeneath {
					return -1, ErrEscape
				}`,
		Repl: `
			if j < 0 {
				if false {
					return -1, ErrEscape
				}`,
		Pkg: "./dirfd", Run: "^TestEscapeTable$", Env: walk,
	},
	{
		Name: "walk: NoXDev not checked on the final object",
		File: "dirfd/walk_unix.go",
		Orig: "if err := d.sameMount(mountid.At(dirfd, part)); err != nil {",
		Repl: "if err := error(nil); err != nil {",
		Pkg:  "./fstests", Run: "^TestHere$/^conformance$/^NoXDev$", Env: append(append([]string{}, walk...), here...),
	},

	// G1: recursive removal.
	{
		Name: "RemoveAll: directories entered without O_NOFOLLOW",
		File: "internal/dirstack/dirstack.go",
		Orig: "const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^cleaner$", Env: here,
	},

	{
		Name: "RemoveAll: climbs back through .. without checking where it led",
		File: "internal/dirstack/dirstack.go",
		Orig: "if err == nil && id != parent.ID {",
		Repl: "if err == nil && id != id {",
		Pkg:  "./unlinkat", Run: "^TestRemoveAllStopsWhenADirectoryWasMoved$",
	},
	{
		Name: "RemoveAll: crosses mount points",
		File: "unlinkat/removeall_unix.go",
		Orig: "if err == nil && !id.SameMount(r.top) {",
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
		Orig: "return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0)",
		Repl: "return unix.Renameat(olddirfd, oldname, newdirfd, newname)",
		Pkg:  "./renameat2", Run: "^TestNoReplaceRefusesExistingName$", Env: noRename,
	},

	// G2/G5: Install publishes with one exchange.
	{
		Name: "Install: exchange emulated by two renames (the name is missing between them)",
		File: "dirfd/install_unix.go",
		Orig: "if err := renameat2.Rename(in.stage.Fd, in.tree, dir, name, renameat2.Exchange); err != nil {",
		Repl: `if err := func() error {
			if err := renameat2.Rename(dir, name, in.stage.Fd, in.tree+".old", 0); err != nil {
				return err
			}
			if err := renameat2.Rename(in.stage.Fd, in.tree, dir, name, 0); err != nil {
				return err
			}
			return renameat2.Rename(in.stage.Fd, in.tree+".old", in.stage.Fd, in.tree, 0)
		}(); err != nil {`,
		Pkg: "./dirfd", Run: "^TestInstallSurvivesSIGKILL$/^direct$",
	},

	// G1/G3: rm -r acts on the directory it examined.
	{
		Name: "rm -r: enters the tree by name after examining it",
		File: "cmd/racefree/rm.go",
		Orig: "	f, err := h.Reopen(os.O_RDONLY)\n",
		Repl: "	f, err := os.Open(d.Name() + \"/\" + name)\n",
		Pkg:  "./cmd/racefree", Run: "^TestRmRecursiveEntersWhatItExamined$",
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
		File: "internal/dirstack/dirstack.go",
		Orig: "const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC",
		Repl: "const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^leak$", Env: here,
	},

	{
		Name: "O_CLOEXEC: a private directory opened without it",
		File: "internal/staging/staging.go",
		Orig: "return unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)",
		Repl: "return unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)",
		Pkg:  "./internal/staging", Run: "^TestDescriptorsCloseOnExec$",
	},
	{
		Name: "O_CLOEXEC: a private directory's parent opened without it",
		File: "internal/staging/staging.go",
		Orig: `return unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)`,
		Repl: `return unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)`,
		Pkg:  "./internal/staging", Run: "^TestDescriptorsCloseOnExec$",
	},

	// S1-S8: racefree's own state.
	{
		Name: "S1: a private directory that is not empty accepted",
		File: "internal/staging/staging.go",
		Orig: "	if !empty {",
		Repl: "	if false && !empty {",
		Pkg:  "./internal/staging", Run: "^TestVerifyRefuses$",
	},
	{
		Name: "S1: a private directory accepted on no group/other bits rather than mode 0700",
		File: "internal/staging/staging.go",
		Orig: "case s.st.Mode&0o7777&^unix.S_ISGID != 0o700:",
		Repl: "case s.st.Mode&0o077 != 0:",
		Pkg:  "./internal/staging", Run: "^TestVerifyRefuses$",
	},
	{
		Name: "S1: a private directory born before ours accepted",
		File: "internal/staging/staging.go",
		Orig: "case !born.IsZero() && born.Before(t0.Add(-bornSlack)):",
		Repl: "case false:",
		Pkg:  "./internal/staging", Run: "^TestVerifyRefuses$",
	},
	{
		Name: "S2: a private directory removed by name without its identity",
		File: "internal/staging/staging.go",
		Orig: "if now.Dev != s.st.Dev || now.Ino != s.st.Ino {",
		Repl: "if false {",
		Pkg:  "./internal/staging", Run: "^TestRemoveByIdentity$",
	},
	{
		Name: "S2/S4: RemoveStale empties a directory holding names racefree never makes",
		File: "dirfd/stale_unix.go",
		Orig: "		if !kind.OwnEntry(e, isDir[i]) {",
		Repl: "		if false && !kind.OwnEntry(e, isDir[i]) {",
		Pkg:  "./dirfd", Run: "^TestRemoveStale$",
	},
	{
		Name: "S4: RemoveStale removes what a move-aside place holds",
		File: "dirfd/stale_unix.go",
		Orig: "_, err = fallback.Keep(noReplaceRename, fd, e, dirfd)",
		Repl: "_, err = fallback.ConflictPrefix, removeTree(fd, e)",
		Pkg:  "./dirfd", Run: "^(TestRemoveStale|TestVerifiedSurvivesSIGKILL)$",
	},
	{
		Name: "S4: KeepPrevious published from a stage, whose leftovers RemoveStale removes",
		File: "dirfd/install_unix.go",
		Orig: "		err = in.moveAside()\n",
		Repl: "		err = nil\n",
		Pkg:  "./dirfd", Run: "^TestInstallSurvivesSIGKILL$/^direct$",
	},
	{
		Name: "S5: NAME.versions of another name taken for this one's",
		File: "dirfd/install_versions_unix.go",
		Orig: `lst.Nlink != 1 || !bytes.Equal(mark[:n], []byte(in.last+"\n")) {`,
		Repl: `lst.Nlink != 1 || n < 0 && !bytes.Equal(mark[:n], []byte(in.last+"\n")) {`,
		Pkg:  "./dirfd", Run: "^TestInstallLeavesForeignVersionsAlone$",
	},
	{
		Name: "S5: the current version not read again under the lock",
		File: "dirfd/install_versions_unix.go",
		Orig: `	if cur, err = in.examine(); err != nil {
		return err
	}
	if cur.kind == kindDir {`,
		Repl: `	if false {
		return err
	}
	if cur.kind == kindDir {`,
		Pkg: "./dirfd", Run: "^TestInstallConcurrentVersionedKeepsPublished$",
	},
	{
		Name: "S5: NAME.versions open to everyone's listing and locking",
		File: "dirfd/install_versions_unix.go",
		Orig: "err = eintr.Retry(func() error { return unix.Fchmod(fd, 0o711) })",
		Repl: "err = eintr.Retry(func() error { return unix.Fchmod(fd, 0o755) })",
		Pkg:  "./dirfd", Run: "^TestInstallLockCannotBeHeldByOthers$",
	},
	{
		Name: "S6: a mark under a reusable mount ID trusted for exchange and no-replace",
		File: "capability/fs.go",
		Orig: "return ok && (k.mount.Unique() || !f.weakens())",
		Repl: "return ok",
		Pkg:  "./capability", Run: "^TestReusableKeysAreNotTrustedForGuarantees$",
	},
	{
		Name: "S7: set-ID bits ride along on replacement",
		File: "dirfd/atomic_unix.go",
		Orig: "return uint32(old.Mode) & 0o7777 &^ (unix.S_ISUID | unix.S_ISGID)",
		Repl: "return uint32(old.Mode) & 0o7777",
		Pkg:  "./dirfd", Run: "^(TestReplaceDropsSetID|TestWriteFileKeepsOwner)$",
	},
	{
		Name: "S8: no compare-unlink on a full filesystem, even in a private directory",
		File: "fallback/route_unix.go",
		Orig: "return stage && (errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)) && PrivateDir(dirfd)",
		Repl: "return stage && false",
		Pkg:  "./dirfd", Run: "^TestRemoveIfSameOnFullFilesystem$",
	},
	{
		Name: "S8: compare-unlink on a full filesystem in a directory others can write",
		File: "fallback/route_unix.go",
		Orig: "return int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0",
		Repl: "return true",
		Pkg:  "./dirfd", Run: "^TestRemoveIfSameOnFullFilesystem$",
	},
	{
		Name: "S7: copies keep set-ID bits without the owner",
		File: "dirfd/copy_unix.go",
		Orig: "if !keptOwner {",
		Repl: "if false {",
		Pkg:  "./dirfd", Run: "^TestCopyTreeKeepsSetIDBitsOnlyWithTheOwner$",
		Root: true,
	},
	{
		Name: "S7: extraction keeps set-ID bits without SetID and the owner",
		File: "extract/extractor.go",
		Orig: "if !x.cfg.setID || !owned {",
		Repl: "if false {",
		Pkg:  "./extract", Run: "^TestBreakoutCorpus$/^(tar|zip)$/^setuid",
	},
	{
		Name: "S7: extraction applies a file capability without SetID and the owner",
		File: "extract/extractor.go",
		Orig: "if _, ok := e.xattrs[fileCapability]; !ok || x.cfg.setID && owned {",
		Repl: "if _, ok := e.xattrs[fileCapability]; !ok || true {",
		Pkg:  "./extract", Run: "^TestFileCapabilityRidesAlongOnlyWithSetID$",
		Root: true,
	},

	// G1 for the tree operations (issue 13).
	{
		Name: "tree: chown by name follows a symlink",
		File: "dirfd/treeops_unix.go",
		Orig: "unix.Fchownat(o.dir, o.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)",
		Repl: "unix.Fchownat(o.dir, o.name, uid, gid, 0)",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^tree-swap$", Env: here,
	},
	{
		Name: "tree: a hard-linked file changed where hard links are unrestricted",
		File: "dirfd/treeops_unix.go",
		Orig: "case e.st.Mode&unix.S_IFMT == unix.S_IFREG && e.st.Nlink > 1:",
		Repl: "case e.st.Mode&unix.S_IFMT == unix.S_IFREG && e.st.Nlink > 1 && false:",
		Pkg:  "./dirfd", Run: "^TestTreeOpsLeaveHardLinkedFilesAloneWithoutProtectedHardlinks$",
		Root: true,
	},
	{
		Name: "tree: CopyTree links a second name by a path looked up again from dst",
		File: "dirfd/copy_unix.go",
		Orig: `
			ofd, flast, err := c.copiedDir(first.rel)
			if err != nil {
				return c.fail(p, rel, "openat", err)
			}
			defer closeFd(ofd)
			hfd, err := openat(ofd, flast, c.dst.openHandleFlags(), 0)
			if err != nil {
				return c.fail(p, rel, "openat", err)
			}
			defer closeFd(hfd)
			var st unix.Stat_t
			if err := eintr.Retry(func() error { return unix.Fstat(hfd, &st) }); err != nil {
				return c.fail(p, rel, "fstat", err)
			}
			if (fileKey{uint64(st.Dev), uint64(st.Ino)}) != first.id {`,
		Repl: `
			fdir, flast := splitLast(path.Join(c.dstName, first.rel))
			ofd, err := c.dst.open(fdir, c.dst.dirOpenFlags(), 0)
			if err != nil {
				return c.fail(p, rel, "openat", err)
			}
			defer closeFd(ofd)
			hfd, err := openat(ofd, flast, c.dst.openHandleFlags(), 0)
			if err != nil {
				return c.fail(p, rel, "openat", err)
			}
			defer closeFd(hfd)
			if false {`,
		Pkg: "./dirfd", Run: "^TestCopyTreeLinksSecondNamesOnlyToItsOwnCopy$",
	},
	{
		Name: "tree: CopyTree opens a source file without O_NOFOLLOW",
		File: "dirfd/copy_unix.go",
		Orig: "unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY",
		Repl: "unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY",
		Pkg:  "./fstests", Run: "^TestHere$/^attacks$/^tree-swap$", Env: here,
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
