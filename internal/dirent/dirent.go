//go:build unix

// Package dirent reads directory entries straight from a directory
// descriptor: each name with the type the filesystem stored beside it
// (d_type), and nothing looked up by path.
//
// Package os can list a descriptor too, but where a filesystem leaves
// d_type unknown, (*os.File).ReadDir looks the entry up by the file's name
// joined with the entry's: a path resolved afresh, which an attacker who
// renames a directory of it can send anywhere. Here an unknown type stays
// unknown, and the caller asks the descriptor it holds (fstatat).
package dirent

import (
	"io"
	"io/fs"
)

// Entry is one name of a directory.
type Entry struct {
	Name string
	// Type is the entry's type bits as fs.FileMode spells them (0 for a
	// regular file), valid when Known is set.
	Type  fs.FileMode
	Known bool
}

// ReadAll appends every remaining entry of fd to dst.
func ReadAll(fd int, dst []Entry) ([]Entry, error) {
	r := NewReader(fd)
	defer r.Close()
	for {
		e, err := r.Next()
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		dst = append(dst, e)
	}
}
