package subdomain_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain/enforce"
	"golang.org/x/sys/unix"
)

// auditStateFile is where immunix run records that it turned the
// kernel's audit on (docs/subdomain.md).
var auditStateFile = filepath.Join(enforce.DefaultStateDir, "audit-enabled-by-immunix")

// TestAuditRestored: immunix run turns the kernel's audit on when it is
// off and the last concurrent run to end turns it off again, also after
// a run was killed; an audit that was on before stays on. Not parallel:
// the audit switch is the machine's.
func TestAuditRestored(t *testing.T) {
	needsEnforcement(t)
	if auditdRunning() {
		t.Skip("auditd runs here: the test would switch the machine's audit under it")
	}
	orig, err := enforce.KernelAuditEnabled()
	if err != nil {
		t.Fatal(err)
	}
	if orig == 2 {
		testenv.KernelLacks(t, "audit is locked on (audit_enabled=2): the switch cannot be tested")
	}
	if _, err := os.Stat(auditStateFile); err == nil {
		t.Fatalf("%s exists before the test: an immunix run is active or one was killed", auditStateFile)
	}
	t.Cleanup(func() {
		os.Remove(auditStateFile)
		if err := enforce.SetKernelAuditEnabled(orig); err != nil {
			t.Errorf("restore the audit to %d: %v", orig, err)
		}
	})
	dir := workspace(t)
	prof, _ := learnProfile(t, dir, "wait.sd", "/bin/sh", "-c", "read x; exit 0")
	state := func() uint32 {
		t.Helper()
		v, err := enforce.KernelAuditEnabled()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	set := func(v uint32) {
		t.Helper()
		if err := enforce.SetKernelAuditEnabled(v); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("overlapping", func(t *testing.T) {
		set(0)
		a := startWaiting(t, dir, prof)
		waitAudit(t, 1)
		b := startWaiting(t, dir, prof)
		a.finish(t)
		if v := state(); v != 1 {
			t.Fatalf("audit %d after the first of two runs ended; want 1 (the second still runs)", v)
		}
		b.finish(t)
		if v := state(); v != 0 {
			t.Fatalf("audit %d after both runs ended; want 0 as before", v)
		}
		if _, err := os.Stat(auditStateFile); err == nil {
			t.Errorf("%s left behind", auditStateFile)
		}
		if !strings.Contains(a.stderr.String(), "turned on the kernel's audit") {
			t.Errorf("the first run did not say it turned the audit on: %q", a.stderr.String())
		}
	})

	t.Run("killed", func(t *testing.T) {
		set(0)
		a := startWaiting(t, dir, prof)
		waitAudit(t, 1)
		// The supervisor (the confined program's child) is killed from
		// outside; the program then ends.
		syscall.Kill(a.supervisor, syscall.SIGKILL)
		a.stdin.Write([]byte("x\n"))
		a.stdin.Close()
		a.cmd.Wait()
		if v := state(); v != 1 {
			t.Fatalf("audit %d after a killed run; want 1 (nobody turned it off)", v)
		}
		if _, err := os.Stat(auditStateFile); err != nil {
			t.Fatalf("the state file went with the killed run: %v", err)
		}
		c := startWaiting(t, dir, prof)
		c.finish(t)
		if v := state(); v != 0 {
			t.Fatalf("audit %d after the next run ended; want 0 (it cleans up after the killed one)", v)
		}
	})

	t.Run("on before", func(t *testing.T) {
		set(1)
		a := startWaiting(t, dir, prof)
		a.finish(t)
		if v := state(); v != 1 {
			t.Fatalf("audit %d after a run; it was on before, want 1", v)
		}
		if strings.Contains(a.stderr.String(), "turned on the kernel's audit") {
			t.Errorf("the run claims it turned on an audit that was on: %q", a.stderr.String())
		}
	})
}

type waitingRun struct {
	cmd        *exec.Cmd
	supervisor int
	pidfd      int // the supervisor's, to wait for its clean-up
	stdin      io.WriteCloser
	stderr     *bytes.Buffer
}

// startWaiting starts immunix run on sh -c 'read x': the confined program
// waits for a line on its standard input.
func startWaiting(t *testing.T, dir, prof string) *waitingRun {
	t.Helper()
	cmd := exec.Command(immunix(t), "run", "-v", "--profile", prof, "--", "/bin/sh", "-c", "read x; exit 0")
	cmd.Dir = dir
	w := &waitingRun{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = w.stderr
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); w.stdin.Close() })
	// The confined sh keeps immunix run's process; the supervisor, which
	// holds the lock on the audit, is its child.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if w.supervisor = child(cmd.Process.Pid); w.supervisor > 0 {
			if w.pidfd, err = unix.PidfdOpen(w.supervisor, 0); err != nil {
				t.Fatalf("pidfd of the supervisor %d: %v", w.supervisor, err)
			}
			t.Cleanup(func() { unix.Close(w.pidfd) })
			return w
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("immunix run started no program: %s", w.stderr.String())
	return nil
}

// finish lets the confined program end and waits for immunix run and
// for its supervisor: the supervisor releases the audit after the
// program it watches has ended, so the program's exit alone does not
// say the release is done (the overlapping case failed once in CI for
// reading the switch in between).
func (w *waitingRun) finish(t *testing.T) {
	t.Helper()
	w.stdin.Write([]byte("go\n"))
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("immunix run: %v\n%s", err, w.stderr.String())
	}
	fds := []unix.PollFd{{Fd: int32(w.pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10000)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait for the supervisor %d: %v", w.supervisor, err)
		}
		if n == 0 {
			t.Fatalf("the supervisor %d still runs 10 s after its program ended", w.supervisor)
		}
		return
	}
}

// child returns pid's first child, 0 if none.
func child(pid int) int {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func waitAudit(t *testing.T, want uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := enforce.KernelAuditEnabled()
		if err != nil {
			t.Fatal(err)
		}
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit %d, want %d", v, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func auditdRunning() bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "auditd" {
			return true
		}
	}
	return false
}
