// Package reexec runs a test binary again, as children of its TestMain:
// once per capability profile, because RACEFREE_DISABLE is read once per
// process, so one process only ever exercises one profile; and, when the
// parent is root, once per profile as the unprivileged uid/gid 65534, where
// permission checks really apply. The children get the same -test.* flags
// (so -race, -run, -v, -count and -short carry over) and the filesystems
// of internal/testfs that the parent mounted.
//
// Set RACEFREE_TEST_NOREEXEC=1 to run only the current process's profile.
package reexec
