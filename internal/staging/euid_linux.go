package staging

import (
	"sync"

	"golang.org/x/sys/unix"
)

// euidFixed reports whether this process can never change its effective
// uid: real, effective and saved uids are equal and CAP_SETUID is not in
// the permitted set (which cannot grow again without an exec). It is asked
// once; a process that later drops privilege for good just keeps paying
// for os.Geteuid.
var euidFixed = sync.OnceValue(func() bool {
	if r, e, s := unix.Getresuid(); r != e || e != s {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Permitted&(1<<unix.CAP_SETUID) == 0
})
