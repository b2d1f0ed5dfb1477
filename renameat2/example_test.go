//go:build unix

package renameat2_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/renameat2"
)

// A log rotator moves the log file it holds open to its archive name,
// without replacing an archive that already exists.
func ExampleRenameIfSame() {
	dir, err := os.MkdirTemp("", "logs-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte("today"), 0o644); err != nil {
		log.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat(dirfd, "app.log", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fd)

	m, err := renameat2.RenameIfSame(dirfd, "app.log", fd, dirfd, "app.log.1", renameat2.NoReplace)
	if err != nil {
		log.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "app.log.1"))
	fmt.Printf("%s: app.log.1 holds %q\n", m, data)
	// Output: move-aside: app.log.1 holds "today"
}
