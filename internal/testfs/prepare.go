package testfs

// Prepare makes the filesystems of the matrix now (or inherits them) rather
// than at the first Each, for a TestMain that hands Env to children it
// starts before, or while, its own tests run.
func Prepare() error {
	_, err := matrix()
	return err
}
