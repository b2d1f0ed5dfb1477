package extract

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/racefree/racefree/dirfd"
)

// Zip extracts the zip file r (of size bytes) into dst, entry by entry in
// the order of its central directory. A backslash in a name is a path
// separator (archives made on Windows use it; "..\..\x" climbs like
// "../../x" and is judged the same way). Symlinks are those the archive's
// Unix modes mark; zip carries no owners, hard links or devices, and
// Owners, Devices and Xattrs change nothing. A file's declared size is not
// trusted: content longer than declared is an error (archive/zip stops the
// read there), and a declared size past the Limits budget is refused before
// anything is written. See the package documentation for the rules every
// entry is held to.
func Zip(dst *dirfd.Dir, r io.ReaderAt, size int64, opts ...Option) (Stats, error) {
	x := newExtractor(dst, opts)
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		// GODEBUG=zipinsecurepath=0: judged lexically there, for real
		// here.
		err = nil
	}
	if err != nil {
		return x.finish(&fs.PathError{Op: "extract", Path: "archive", Err: err})
	}
	for _, f := range zr.File {
		e, err := zipEntry(f, x.buf)
		if err == nil {
			err = x.apply(e)
		}
		if err != nil {
			return x.finish(err)
		}
	}
	return x.finish(nil)
}

// maxSymlinkTarget bounds a symlink's target as PATH_MAX does: the target
// is read into memory, and a declared size is not trusted.
const maxSymlinkTarget = 4096

func zipEntry(f *zip.File, buf []byte) (*entry, error) {
	mode := f.Mode()
	e := &entry{
		name:  strings.ReplaceAll(f.Name, `\`, "/"),
		mode:  mode &^ fs.ModeType,
		size:  int64(min(f.UncompressedSize64, 1<<63-1)),
		mtime: f.Modified,
	}
	switch {
	case mode.IsDir() || strings.HasSuffix(e.name, "/"):
		e.kind = kindDir
	case mode&fs.ModeSymlink != 0:
		e.kind = kindSymlink
		target, err := readZipLink(f)
		if err != nil {
			return nil, &fs.PathError{Op: "extract symlink", Path: f.Name, Err: err}
		}
		e.linkname = target
	case mode.IsRegular():
		e.kind = kindFile
		e.write = func(w *os.File) (int64, error) { return copyZip(w, f, buf) }
	default:
		e.kind = kindSkip
	}
	return e, nil
}

func readZipLink(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	target, err := io.ReadAll(io.LimitReader(rc, maxSymlinkTarget+1))
	if err != nil {
		return "", err
	}
	if len(target) > maxSymlinkTarget {
		return "", fmt.Errorf("symlink target longer than %d bytes", maxSymlinkTarget)
	}
	return string(target), nil
}

// copyZip copies f's content into w through buf. A declared size is not
// trusted to be the real one: archive/zip fails the read (ErrFormat) as
// soon as the content runs past it, so the Limits check of the declared
// size before the copy bounds what is written.
func copyZip(w *os.File, f *zip.File, buf []byte) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.CopyBuffer(writerOnly{w}, rc, buf)
}
