package main

// currentUmask is 0 on Windows, where no umask exists (and dirfd changes
// no mode).
func currentUmask() uint32 { return 0 }
