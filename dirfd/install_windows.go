package dirfd

// Install is not supported on Windows.
func (d *Dir) Install(name string, build func(stage *Dir) error, opts ...InstallOption) error {
	return unsupported("install", name)
}
