package extract

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// readBuffer is the size of the buffer before the archive reader: large
// enough that a header, its padding and a small file's content cost one
// read(2) together.
const readBuffer = 256 << 10

// codec is a compression format, known by the first bytes of its stream.
type codec struct {
	name  string
	magic []byte
	open  func(r io.Reader) (io.ReadCloser, error)
}

var codecs = []codec{
	{"gzip", []byte{0x1f, 0x8b}, func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, func(r io.Reader) (io.ReadCloser, error) {
		// Decoded in the caller's Read: the concurrent decoder hands every
		// block between goroutines, which costs more than it saves on
		// archives of small files.
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, func(r io.Reader) (io.ReadCloser, error) {
		d, err := xz.NewReader(r)
		return io.NopCloser(d), err
	}},
	{"bzip2", []byte("BZh"), func(r io.Reader) (io.ReadCloser, error) {
		return io.NopCloser(bzip2.NewReader(r)), nil
	}},
}

// decompress returns the tar stream inside r: r itself when it starts with
// none of the codecs' magic numbers, else the codec's decoder. Close
// releases the decoder (zstd's runs goroutines).
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, readBuffer)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF {
		return nil, err
	}
	for _, c := range codecs {
		if bytes.HasPrefix(head, c.magic) {
			d, err := c.open(br)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			return d, nil
		}
	}
	return io.NopCloser(br), nil
}
