package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/renameat2"
)

func runMv(e *env, args []string) error {
	flags := newFlags("mv")
	exchange := flags.Bool("exchange", false, "swap SRC and DST atomically; both must exist (never emulated)")
	var noClobber bool
	flags.BoolVar(&noClobber, "n", false, "fail, atomically, if DST exists instead of replacing it")
	flags.BoolVar(&noClobber, "no-clobber", false, "same as -n")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if *exchange && noClobber {
		return usagef("--exchange and --no-clobber exclude each other")
	}
	if len(operands) != 2 {
		return usagef("want SRC and DST, got %d operands", len(operands))
	}
	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()

	src := parseEntry(operands[0])
	if !src.isEntry() {
		return fmt.Errorf("%s: names a directory by position, not an entry that can be moved", quote(src.arg))
	}
	sd, err := s.parent(src)
	if err != nil {
		return err
	}
	defer sd.Close()

	// DST a directory: move into it, as mv does; an exchange swaps the
	// two names as given.
	var dd *dirfd.Dir
	dst := parseEntry(operands[1])
	if !*exchange {
		if dd, err = s.openIfDir(dst.arg); err != nil {
			return err
		}
	}
	if dd != nil {
		dst = entry{arg: inDir(dst.arg, src.name), name: src.name}
	} else {
		if !dst.isEntry() {
			return fmt.Errorf("%s: names a directory by position, not an entry that can be replaced", quote(dst.arg))
		}
		if dd, err = s.parent(dst); err != nil {
			return err
		}
	}
	defer dd.Close()

	if err := checkSlashes(sd, src, dd, dst, *exchange); err != nil {
		return err
	}
	var how renameat2.Flags
	switch {
	case *exchange:
		how = renameat2.Exchange
	case noClobber:
		how = renameat2.NoReplace
	}
	return mvError(src.arg, dst.arg, how, dirfd.RenameBetween(sd, src.name, dd, dst.name, how))
}

// checkSlashes gives an operand's trailing slash the kernel's meaning
// ("must be a directory") without passing it to the kernel, which would
// follow a final symlink to find that directory: SRC must be a directory,
// and so must DST if it exists; a missing DST/ takes a directory only.
func checkSlashes(sd *dirfd.Dir, src entry, dd *dirfd.Dir, dst entry, exchange bool) error {
	if !src.slash && !dst.slash {
		return nil
	}
	sfi, err := sd.Lstat(src.name)
	if err != nil {
		return operandError(src.arg, err)
	}
	if src.slash && !sfi.IsDir() {
		return operandError(src.arg, syscall.ENOTDIR)
	}
	if !dst.slash {
		return nil
	}
	dfi, err := dd.Lstat(dst.name)
	switch {
	case err == nil && !dfi.IsDir(), err != nil && errors.Is(err, fs.ErrNotExist) && !exchange && !sfi.IsDir():
		return operandError(dst.arg, syscall.ENOTDIR)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return operandError(dst.arg, err)
	}
	return nil
}

func mvError(srcArg, dstArg string, how renameat2.Flags, err error) error {
	src, dst := quote(srcArg), quote(dstArg)
	switch {
	case err == nil:
		return nil
	case how == renameat2.Exchange && errors.Is(err, syscall.EXDEV):
		return fmt.Errorf("cannot exchange %s and %s: they are on different filesystems (an exchange is one rename on one filesystem, never emulated)", src, dst)
	case how == renameat2.Exchange && errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("cannot exchange %s and %s: this filesystem cannot swap names atomically, and --exchange is never emulated", src, dst)
	case how == renameat2.Exchange && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot exchange %s and %s: both must exist: %s", src, dst, explain(err))
	case how == renameat2.NoReplace && errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: exists, not replaced (--no-clobber)", dst)
	case errors.Is(err, syscall.EXDEV):
		return fmt.Errorf("cannot move %s to %s: they are on different filesystems (racefree mv renames, it does not copy)", src, dst)
	case errors.Is(err, syscall.EINVAL) && how != renameat2.Exchange:
		return fmt.Errorf("cannot move %s to %s: a directory cannot move into itself", src, dst)
	}
	return fmt.Errorf("cannot move %s to %s: %s", src, dst, explain(err))
}
