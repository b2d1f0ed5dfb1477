//go:build unix

package fallback_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
)

// The move-aside, step by step: take the name into a private stage,
// compare there, and act only on the expected object; anything else goes
// back where it was.
func ExampleTakeAside() {
	dir, err := os.MkdirTemp("", "aside-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("theirs"), 0o644); err != nil {
		log.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(dirfd)
	var mine unix.Stat_t // the object we expected: not the one under x
	if err := unix.Fstat(dirfd, &mine); err != nil {
		log.Fatal(err)
	}

	// LinkUnlink is an exact no-replace rename out of the private stage
	// for non-directories; renameat2's NoReplace is the usual choice.
	a, err := fallback.TakeAside(dirfd, "x", &mine, fallback.LinkUnlink)
	if err != nil {
		log.Fatal(err)
	}
	if a.Same() {
		err = a.Unlink()
	} else {
		err = a.PutBack(fallback.ErrChanged)
	}
	fmt.Println(err)
	data, _ := os.ReadFile(filepath.Join(dir, "x"))
	fmt.Println("x holds:", string(data))
	// Output:
	// object changed since it was opened
	// x holds: theirs
}
