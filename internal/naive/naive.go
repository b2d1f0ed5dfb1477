// Package naive is the deliberately unsafe archive extractor that racefree's
// proofs need as a positive control: what an extractor written the obvious
// way does (archive/tar or archive/zip, filepath.Join, os calls on the
// joined path, an existing entry removed before it is replaced, as tar
// does). The breakout corpus (extract's tests) and the extract-swap attack
// (fstests) must catch it escaping, or they prove nothing; the benchmarks
// measure it as the cost of doing no checking at all. Never use it on an
// archive or a directory you do not control.
package naive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Tar extracts the tar stream r into dst by path; with whiteouts, entries
// named .wh.NAME remove NAME and .wh..wh..opq empties its directory.
func Tar(dst string, r io.Reader, whiteouts bool) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dst, hdr.Name)
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		if whiteouts && strings.HasPrefix(filepath.Base(p), ".wh.") {
			err = whiteout(p)
		} else {
			switch hdr.Typeflag {
			case tar.TypeDir:
				err = os.MkdirAll(p, mode)
			case tar.TypeReg:
				err = file(p, tr, mode)
			case tar.TypeSymlink:
				err = replace(p, func() error { return os.Symlink(hdr.Linkname, p) })
			case tar.TypeLink:
				err = replace(p, func() error { return os.Link(filepath.Join(dst, hdr.Linkname), p) })
			}
		}
		if err != nil {
			return err
		}
	}
}

// Zip extracts the zip archive data into dst by path.
func Zip(dst string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return err
	}
	for _, zf := range zr.File {
		p := filepath.Join(dst, zf.Name)
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		switch mode := zf.Mode(); {
		case mode.IsDir():
			err = os.MkdirAll(p, mode.Perm())
		case mode&fs.ModeSymlink != 0:
			var target []byte
			if target, err = io.ReadAll(rc); err == nil {
				err = replace(p, func() error { return os.Symlink(string(target), p) })
			}
		default:
			err = file(p, rc, mode.Perm())
		}
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// file writes r to p, opened as GNU tar opens it: directly, and only when
// that fails for a missing directory are the parents made and the open
// tried again.
func file(p string, r io.Reader, mode fs.FileMode) error {
	var f *os.File
	err := withParents(p, func() (err error) {
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replace removes what is at p and makes the new entry with create.
func replace(p string, create func() error) error {
	os.Remove(p)
	return withParents(p, create)
}

// withParents runs create, and if it fails for a missing directory, makes
// p's parents and runs it again.
func withParents(p string, create func() error) error {
	err := create()
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return create()
}

func whiteout(p string) error {
	dir, base := filepath.Split(p)
	if base != ".wh..wh..opq" {
		return os.RemoveAll(filepath.Join(dir, strings.TrimPrefix(base, ".wh.")))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
