package renameat2

// Rename is not supported on Windows.
func Rename(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	return unsupported("renameat2 is not available on Windows")
}
