package opath

// ViaProcFd calls op with a verified descriptor of this thread's
// /proc/thread-self/fd directory and the entry name of fd in it, so that op
// can use the magic link of any descriptor (O_PATH ones included) with an
// *at call. The directory is reached through filepath-securejoin's hardened
// procfs, which refuses a /proc that is not procfs or is overmounted, and
// the entry itself is checked for an overmount first. op runs on the locked
// thread whose fd directory it was given, and is retried on EINTR.
//
// Other packages (linkat's flink fallback) use it so that there is one
// implementation of the procfs route.
func ViaProcFd(fd int, op func(dir int, name string) error) error {
	return viaProcFd(fd, op)
}
