package testenv

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StopProcess sends SIGSTOP to pid and waits (at most 10 s) until every
// one of its threads is stopped: kill(2) returns before the signal takes
// effect, and a test that stops a process to open a window must know
// the window is open.
func StopProcess(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		all := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			// The state follows the command, which ends with ')'.
			if i := strings.LastIndexByte(string(b), ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
	t.Fatalf("process %d not stopped 10s after SIGSTOP", pid)
}
