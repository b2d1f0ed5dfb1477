package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
)

// runExtract unpacks a tar (plain, gzip, zstd, xz, bzip2) or zip archive
// into DEST, which it creates when missing. Every entry is resolved inside
// DEST and acted on through descriptors (package extract): an archive, or
// another user changing DEST meanwhile, cannot make it write anywhere
// else. With --atomic DEST is installed whole (dirfd.Install): readers see
// the old tree or the complete new one, and a failure leaves the old one.
func runExtract(e *env, args []string) error {
	flags := newFlags("extract")
	atomic := flags.Bool("atomic", false, "install DEST all at once: readers see the old tree or the whole new one, and a failure leaves the old one")
	owners := flags.Bool("owners", false, "apply the archive's numeric owners and keep set-ID bits (root only); default: you own everything, set-ID bits are stripped")
	whiteouts := flags.Bool("whiteouts", false, "OCI layer semantics: .wh.NAME removes NAME, .wh..wh..opq empties its directory")
	maxFiles := flags.Int("max-files", 0, "stop before the archive makes more than `N` entries (with the directories made for them); 0: no limit")
	maxBytes := flags.Int64("max-bytes", 0, "stop before the archive's files hold more than `N` bytes, as they declare them (a sparse file's whole size); 0: no limit")
	root := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) != 2 {
		return usagef("want ARCHIVE and DEST, got %d operands", len(operands))
	}
	s, err := root.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()
	archive, dest := operands[0], operands[1]
	var opts []extract.Option
	if *owners {
		opts = append(opts, extract.Owners(), extract.SetID())
	}
	if *whiteouts {
		opts = append(opts, extract.Whiteouts())
	}
	if *maxFiles < 0 || *maxBytes < 0 {
		return usagef("--max-files and --max-bytes take a count, 0 for no limit")
	}
	if *maxFiles > 0 || *maxBytes > 0 {
		opts = append(opts, extract.Limits(*maxFiles, *maxBytes))
	}

	in, size, err := openArchive(e, archive)
	if err != nil {
		return err
	}
	defer in.Close()
	bar := newExtractBar(e.stderr, size)
	opts = append(opts, extract.Progress(bar.entry))
	unpack, err := unpacker(in, size, bar)
	if err != nil {
		return fmt.Errorf("%s: %v", archive, err)
	}

	parent, name, err := s.destination(dest)
	if err != nil {
		return err
	}
	defer parent.Close()
	var stats extract.Stats
	build := func(d *dirfd.Dir) (err error) {
		stats, err = unpack(d, opts...)
		return err
	}
	switch {
	case *atomic && name == "":
		return usagef("--atomic: DEST %q names a directory by position; want a name to install the tree under", dest)
	case *atomic:
		err = parent.Install(name, build)
	default:
		err = extractInto(parent, name, build)
	}
	bar.finish(err == nil)
	if err != nil {
		return extractError(archive, dest, err)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", dest, summary(stats, time.Since(bar.start)))
	return nil
}

// destination opens the directory DEST is to be made in, and returns it
// with DEST's name there ("" when DEST names that directory itself). In a
// root DEST is a name inside it, made with its missing parents; without
// one, DEST's directory is opened by its path, as any shell tool opens it.
// From then on everything happens through descriptors.
func (s *scope) destination(dest string) (*dirfd.Dir, string, error) {
	if s.root != nil {
		d, err := s.root.OpenDir(".")
		if err != nil {
			return nil, "", s.operandError(dest, err)
		}
		name := strings.TrimRight(dest, "/") // "/": the root itself
		if name == "." {
			name = ""
		}
		return d, name, nil
	}
	en := parseEntry(dest)
	if !en.isEntry() {
		d, err := s.openDir(dest)
		return d, "", err
	}
	d, err := s.parent(en)
	return d, en.name, err
}

// extractInto makes name in parent if missing and extracts into it; an
// empty name is parent itself.
func extractInto(parent *dirfd.Dir, name string, build func(*dirfd.Dir) error) error {
	if name == "" {
		return build(parent)
	}
	if err := parent.MkdirAll(name, 0o755); err != nil {
		return err
	}
	d, err := parent.OpenDir(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return build(d)
}

// openArchive opens ARCHIVE ("-": standard input) and returns its size, or
// -1 when it is not a regular file.
func openArchive(e *env, archive string) (io.ReadCloser, int64, error) {
	if archive == "-" {
		return io.NopCloser(e.stdin), -1, nil
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %s", archive, explain(err))
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return f, -1, nil
	}
	return f, fi.Size(), nil
}

// zipMagic starts a zip file (a local file header, or the end record of an
// empty archive).
var zipMagic = [][]byte{[]byte("PK\x03\x04"), []byte("PK\x05\x06")}

// unpacker picks the format from the first bytes: zip, which needs random
// access to a regular file, or tar in any of its compressions.
func unpacker(in io.Reader, size int64, bar *extractBar) (func(*dirfd.Dir, ...extract.Option) (extract.Stats, error), error) {
	br := bufio.NewReader(in)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	for _, m := range zipMagic {
		if !bytes.HasPrefix(head, m) {
			continue
		}
		ra, ok := in.(io.ReaderAt)
		if !ok || size < 0 {
			return nil, errors.New("a zip archive must be a regular file (zip is read from its end), not a pipe")
		}
		return func(d *dirfd.Dir, opts ...extract.Option) (extract.Stats, error) {
			return extract.Zip(d, bar.readerAt(ra), size, opts...)
		}, nil
	}
	return func(d *dirfd.Dir, opts ...extract.Option) (extract.Stats, error) {
		return extract.Tar(d, bar.reader(br), opts...)
	}, nil
}

// extractError says which entry stopped the extraction and why, in words
// a shell user recognises.
func extractError(archive, dest string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Op, "extract") {
		what := strings.TrimSpace(strings.TrimPrefix(pe.Op, "extract"))
		if what != "" {
			what += " "
		}
		reason := pe.Err.Error()
		switch {
		case errors.Is(err, dirfd.ErrEscape):
			reason = "leads out of " + dest + " (refused)"
		case errors.Is(err, extract.ErrLimit):
			reason = pe.Err.Error()
		}
		return fmt.Errorf("%s: %s%s: %s", archive, what, pe.Path, reason)
	}
	return fmt.Errorf("%s: %s", dest, explain(err))
}

// summary is the line printed after a successful extraction.
func summary(s extract.Stats, took time.Duration) string {
	parts := []string{fmt.Sprintf("%d files (%s)", s.Files, sizeText(float64(s.Bytes))), fmt.Sprintf("%d directories", s.Dirs)}
	for _, c := range []struct {
		n    int
		what string
	}{{s.Symlinks, "symlinks"}, {s.Hardlinks, "hard links"}, {s.Nodes, "devices and FIFOs"}, {s.Whiteouts, "whiteouts applied"}, {s.Skipped, "skipped"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return fmt.Sprintf("extracted %s in %.1fs", strings.Join(parts, ", "), took.Seconds())
}

// extractBar shows progress on standard error when it is a terminal: the
// archive's bytes read (a bar when its size is known) and the entries
// extracted. Elsewhere it only keeps the start time.
type extractBar struct {
	start time.Time
	bar   *progressbar.ProgressBar // nil when not on a terminal
}

func newExtractBar(stderr io.Writer, size int64) *extractBar {
	return &extractBar{start: time.Now(), bar: terminalBar(stderr, "extracting", size, progressbar.OptionShowBytes(true))}
}

// entry updates the description with the counts so far.
func (b *extractBar) entry(s extract.Stats) {
	if b.bar != nil {
		b.bar.Describe(fmt.Sprintf("extracting: %d files, %d directories", s.Files, s.Dirs))
	}
}

func (b *extractBar) reader(r io.Reader) io.Reader {
	if b.bar == nil {
		return r
	}
	return io.TeeReader(r, b.bar)
}

func (b *extractBar) readerAt(r io.ReaderAt) io.ReaderAt {
	if b.bar == nil {
		return r
	}
	return countingReaderAt{r, b.bar}
}

func (b *extractBar) finish(ok bool) {
	if b.bar == nil {
		return
	}
	if ok {
		b.bar.Finish()
	} else {
		b.bar.Exit()
	}
}

// countingReaderAt reports every read of a zip file to the bar.
type countingReaderAt struct {
	r   io.ReaderAt
	bar *progressbar.ProgressBar
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bar.Add(n)
	return n, err
}
