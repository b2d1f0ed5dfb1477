package extract

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/racefree/racefree/dirfd"
)

// Tar extracts a tar stream into dst: plain, or compressed with gzip,
// zstd, xz or bzip2 (detected from the first bytes). archive/tar reads the
// formats (ustar, PAX, GNU long names and sparse files, whose holes stay
// holes). It returns what it extracted, also when it stops at an error;
// see the package documentation for the rules every entry is held to.
//
// Entry types: regular files (and contiguous files), directories,
// symlinks, hard links, and with Devices character and block devices and
// FIFOs; anything else (GNU volume headers, multi-volume continuations,
// unknown types) is skipped and counted in Stats.Skipped.
//
// A sparse file costs time in proportion to its declared size, holes
// included: archive/tar hands out the holes as zeros and keeps the map to
// itself, so each is read and found to be zeros (and then skipped, not
// written). A few hundred bytes of archive can declare exabytes: give
// untrusted archives Limits, whose byte count is the declared size.
func Tar(dst *dirfd.Dir, r io.Reader, opts ...Option) (Stats, error) {
	x := newExtractor(dst, opts)
	stream, err := decompress(r)
	if err != nil {
		return x.finish(&fs.PathError{Op: "extract", Path: "archive", Err: err})
	}
	defer stream.Close()
	tr := tar.NewReader(stream)
	prev := ""
	for {
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			// GODEBUG=tarinsecurepath=0: archive/tar judges the name
			// lexically; the Dir judges it for real below.
			err = nil
		}
		if err == io.EOF {
			return x.finish(nil)
		}
		if err != nil {
			return x.finish(readError(prev, err))
		}
		prev = hdr.Name
		if err := x.apply(tarEntry(hdr, tr, x.buf)); err != nil {
			return x.finish(err)
		}
	}
}

// readError is a failure to read the archive after the entry prev.
func readError(prev string, err error) error {
	where := "archive"
	if prev != "" {
		where = fmt.Sprintf("archive, after %s", prev)
	}
	return &fs.PathError{Op: "extract", Path: where, Err: err}
}

// tarEntry describes the header hdr, whose content tr reads (through buf).
func tarEntry(hdr *tar.Header, tr *tar.Reader, buf []byte) *entry {
	fi := hdr.FileInfo()
	e := &entry{
		name:     hdr.Name,
		mode:     fi.Mode() &^ fs.ModeType,
		linkname: hdr.Linkname,
		size:     hdr.Size,
		uid:      hdr.Uid,
		gid:      hdr.Gid,
		hasOwner: true,
		atime:    hdr.AccessTime,
		mtime:    hdr.ModTime,
		major:    uint32(hdr.Devmajor),
		minor:    uint32(hdr.Devminor),
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		e.kind = kindFile
		// The size was checked against the budget before, and the reader
		// yields exactly hdr.Size bytes.
		e.write = func(f *os.File) (int64, error) { return io.CopyBuffer(writerOnly{f}, tr, buf) }
		if isSparse(hdr) {
			e.write = func(f *os.File) (int64, error) { return copySparse(f, tr, buf) }
		}
	case tar.TypeDir:
		e.kind = kindDir
	case tar.TypeSymlink:
		e.kind = kindSymlink
	case tar.TypeLink:
		e.kind = kindHardlink
	case tar.TypeChar:
		e.kind, e.mode = kindNode, e.mode|fs.ModeDevice|fs.ModeCharDevice
	case tar.TypeBlock:
		e.kind, e.mode = kindNode, e.mode|fs.ModeDevice
	case tar.TypeFifo:
		e.kind, e.mode = kindNode, e.mode|fs.ModeNamedPipe
	default:
		e.kind = kindSkip
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattr); ok {
			if e.xattrs == nil {
				e.xattrs = map[string]string{}
			}
			e.xattrs[name] = v
		}
	}
	return e
}

// paxXattr prefixes the PAX records of extended attributes (star, GNU tar).
const paxXattr = "SCHILY.xattr."

// isSparse reports whether hdr is a sparse file (old GNU, or one of the
// PAX sparse formats), whose holes archive/tar reads back as zeros.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// sparseBlock is the unit in which copySparse finds holes: a block of
// zeros is skipped rather than written.
const sparseBlock = 4096

// copySparse copies a sparse file's content into f, seeking over every
// block of zeros instead of writing it, so that the holes archive/tar
// fills with zeros are holes again (archive/tar does not tell where they
// are), and sets the size at the end (a final hole has no byte to write).
func copySparse(f *os.File, r io.Reader, buf []byte) (int64, error) {
	var size int64
	for {
		// Filled by hand: io.ReadFull would turn a truncated archive's
		// io.ErrUnexpectedEOF and a short last chunk into one error.
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		for data := buf[:n]; len(data) > 0; {
			run := min(sparseBlock, len(data))
			zero := isZero(data[:run])
			for run < len(data) && isZero(data[run:min(run+sparseBlock, len(data))]) == zero {
				run = min(run+sparseBlock, len(data))
			}
			var werr error
			if zero {
				_, werr = f.Seek(int64(run), io.SeekCurrent)
			} else {
				_, werr = f.Write(data[:run])
			}
			if werr != nil {
				return size, werr
			}
			size += int64(run)
			data = data[run:]
		}
		if err == io.EOF {
			return size, f.Truncate(size)
		}
		if err != nil {
			return size, err
		}
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
