package childwait

import (
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

func start(t *testing.T, withPidfd bool, argv ...string) (int, int) {
	t.Helper()
	pidfd := -1
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{}}
	if withPidfd {
		attr.Sys.PidFD = &pidfd
	}
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		t.Fatal(err)
	}
	return pid, pidfd
}

func TestWait(t *testing.T) {
	sh := testenv.NeedsTool(t, "sh")
	for _, withPidfd := range []bool{true, false} {
		pid, pidfd := start(t, withPidfd, sh, "-c", "sleep 0.05; exit 7")
		if withPidfd && pidfd < 0 {
			t.Fatal("no pidfd")
		}
		ws, err := Wait(pid, pidfd)
		if err != nil || !ws.Exited() || ws.ExitStatus() != 7 {
			t.Errorf("pidfd %v: status %v, exit %d, err %v; want exit 7", withPidfd, ws, ws.ExitStatus(), err)
		}
		pid, pidfd = start(t, withPidfd, sh, "-c", "kill -TERM $$")
		ws, err = Wait(pid, pidfd)
		if err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("pidfd %v: status %v, err %v; want killed by SIGTERM", withPidfd, ws, err)
		}
	}
}
