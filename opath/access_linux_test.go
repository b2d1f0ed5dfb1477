package opath_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestHandleAccessWhenFaccessat2IsRefused: on a kernel before 5.8
// (ENOSYS) or under a seccomp filter that refuses faccessat2 (EPERM, what
// container runtimes' default profiles say to an unknown call), Access
// still answers: through the descriptor's /proc entry. It used to return
// EINVAL, from x/sys's emulation of faccessat2, which rejects AT_EMPTY_PATH.
func TestHandleAccessWhenFaccessat2IsRefused(t *testing.T) {
	_, d := hTree(t)
	f := hOpen(t, d, "f")
	for _, refusal := range []syscall.Errno{unix.ENOSYS, unix.EPERM} {
		for _, tc := range []struct {
			mode uint32
			want error
		}{
			{unix.R_OK | unix.W_OK, nil},
			{unix.F_OK, nil},
			{unix.X_OK, syscall.EACCES}, // 0644: no execute bit, for root too
		} {
			var err error
			withFaccessat2Refused(t, refusal, func() { err = f.Access(tc.mode) })
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("faccessat2 refused with %v: Access(%#o) = %v, want %v", refusal, tc.mode, err, tc.want)
			}
		}
	}
}

// TestHandleAccessOfAnImmutableFile: W_OK on an immutable file is EPERM
// from the kernel, the true answer, not the EINVAL of x/sys's emulation.
func TestHandleAccessOfAnImmutableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a file immutable needs root")
	}
	tmp, d := hTree(t)
	p := filepath.Join(tmp, "imm")
	hMust(t, os.WriteFile(p, nil, 0o644))
	if err := setImmutable(p, true); err != nil {
		t.Skipf("this filesystem has no immutable flag: %v", err)
	}
	defer setImmutable(p, false)
	h := hOpen(t, d, "imm")
	if err := h.Access(unix.W_OK); !errors.Is(err, syscall.EPERM) {
		t.Errorf("Access(W_OK) of an immutable file = %v, want EPERM", err)
	}
	if err := h.Access(unix.R_OK); err != nil {
		t.Errorf("Access(R_OK) of an immutable file = %v, want success", err)
	}
}

// withFaccessat2Refused runs fn on an OS thread of its own whose seccomp
// filter answers faccessat2 with refusal. The thread is never unlocked, so
// it ends with the goroutine and the filter with it.
func withFaccessat2Refused(t *testing.T, refusal syscall.Errno, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		prog := []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // the syscall number
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_FACCESSAT2},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(refusal)},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- err
			return
		}
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
			done <- err
			return
		}
		if err := unix.Faccessat2(unix.AT_FDCWD, "/", unix.F_OK, 0); err != refusal {
			done <- errors.New("the seccomp filter does not refuse faccessat2: " + errString(err))
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Skipf("cannot install a seccomp filter: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// fsImmutableFL is FS_IMMUTABLE_FL of linux/fs.h, which x/sys lacks.
const fsImmutableFL = 0x10

// setImmutable sets or clears the immutable attribute (chattr +i).
func setImmutable(path string, on bool) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if on {
		flags |= fsImmutableFL
	} else {
		flags &^= fsImmutableFL
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
}
