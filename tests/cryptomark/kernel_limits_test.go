package cryptomark

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/testenv"
)

// underSeccomp runs argv with a seccomp filter that fails system call nr
// with errno: the answer a kernel without the feature gives (ENOSYS for a
// syscall compiled out, EINVAL for a flag it does not know). The filter is
// installed on a locked thread the command is forked from; the thread ends
// with its goroutine.
func underSeccomp(t *testing.T, nr uintptr, errno unix.Errno, argv ...string) (int, string) {
	t.Helper()
	type result struct {
		code int
		out  string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the filtered thread exits with us
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			ch <- result{err: err}
			return
		}
		filter := []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: unix.AUDIT_ARCH_X86_64},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(nr)},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		}
		prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog))); e != 0 {
			ch <- result{err: e}
			return
		}
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ch <- result{code: ee.ExitCode(), out: string(out)}
			return
		}
		ch <- result{out: string(out), err: err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("run %v under seccomp: %v", argv, r.err)
	}
	return r.code, r.out
}

// TestKernelLimits: markd on a kernel without fanotify, without permission
// events, or without FAN_OPEN_EXEC_PERM says so in one line naming the
// kernel's limit and exits non-zero (the kernel's answers are made by a
// seccomp filter: this kernel has all three).
func TestKernelLimits(t *testing.T) {
	testenv.NeedsRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the filter is written for x86-64 system call numbers")
	}
	mnt := mountTmpfs(t)
	k := newKeys(t)
	pol := writePolicy(t, "/ require-signed\n")
	exe := filepath.Join(testenv.Binaries(t), "immunix")
	for _, c := range []struct {
		name  string
		nr    uintptr
		errno unix.Errno
		want  string
	}{
		{"no fanotify", unix.SYS_FANOTIFY_INIT, unix.ENOSYS, "fanotify is not available in this kernel (CONFIG_FANOTIFY)"},
		{"no permission events", unix.SYS_FANOTIFY_INIT, unix.EINVAL, "no fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS)"},
		{"no exec permission event", unix.SYS_FANOTIFY_MARK, unix.EINVAL, "no FAN_OPEN_EXEC_PERM (Linux 5.0 or later)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := underSeccomp(t, c.nr, c.errno, exe, "markd", "--foreground", "--mark", mnt, "--policy", pol, "--keys", k.Dir)
			if code == 0 || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 || strings.Contains(out, "goroutine") {
				t.Errorf("exit %d, output %q; want one line with %q", code, out, c.want)
			}
		})
	}
}
