//go:build unix && !linux

package fstests

// forgetsReplaced cannot be asked here: it needs a reference to a symlink
// itself (O_PATH). A filesystem that forgets replaced objects shows up as
// escapes of the replace and install attacks instead.
func forgetsReplaced(dir string) (string, error) { return "", nil }

// unlinkWatch has no inotify to stand on here: only the readers watch.
type unlinkWatch struct{}

func watchUnlinks(dir, name string) (*unlinkWatch, error) { return nil, nil }

func (w *unlinkWatch) unlinks() int64 { return 0 }

func (w *unlinkWatch) close() {}
