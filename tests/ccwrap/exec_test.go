package ccwrap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

// fakeCompiler writes a compiler that answers immunix-cc's probes with gcc
// and, for the real command, writes its pid to PIDFILE and then either
// exits 0 or sleeps (so the test can signal it).
func fakeCompiler(t *testing.T, dir, then string) string {
	t.Helper()
	gcc := testenv.NeedsTool(t, "gcc")
	p := filepath.Join(dir, "fakecc")
	script := "#!/bin/sh\ncase \"$*\" in *-dM*|*-Werror*|*assembler*) exec " + gcc + " \"$@\";; esac\n" +
		"echo $$ > " + filepath.Join(dir, "pid") + "\n" + then + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readPid(t *testing.T, dir string) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		if n, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the fake compiler never ran")
	return 0
}

// TestExecReplacesProcess: without the FormatGuard retry, immunix-cc
// becomes the compiler: same pid, the compiler's exit status.
func TestExecReplacesProcess(t *testing.T) {
	bin := testenv.Binaries(t)
	dir := t.TempDir()
	fake := fakeCompiler(t, dir, "exit 7")
	src := source(t, dir, "gcc")
	c := exec.Command(filepath.Join(bin, "immunix-cc"), "-c", src)
	c.Env = append(os.Environ(), "IMMUNIX_CC="+fake, "IMMUNIX_DISABLE=formatguard", "IMMUNIX_CACHE_DIR="+cacheDir, "IMMUNIX_CONFIG=/nonexistent")
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v, want the compiler's 7", err)
	}
	if pid := readPid(t, dir); pid != c.Process.Pid {
		t.Errorf("the compiler ran as pid %d, immunix-cc was %d: not exec'd", pid, c.Process.Pid)
	}
}

// TestSignalReachesCompiler: with the FormatGuard retry the compiler is a
// child; killing immunix-cc kills the compiler too, and immunix-cc dies of
// the signal.
func TestSignalReachesCompiler(t *testing.T) {
	bin := testenv.Binaries(t)
	dir := t.TempDir()
	fake := fakeCompiler(t, dir, "exec sleep 60")
	src := source(t, dir, "gcc")
	w := filepath.Join(bin, "immunix-cc")
	env := append(os.Environ(), "IMMUNIX_CC="+fake, "IMMUNIX_CACHE_DIR="+cacheDir, "IMMUNIX_CONFIG=/nonexistent")
	out, _ := exec.Command(w, "--immunix-explain", "-c", src).CombinedOutput()
	if !strings.Contains(string(out), "formatguard") || strings.Contains(string(out), "note:    formatguard") {
		testenv.Missing(t, "FormatGuard headers are not available, so there is no child mode to test")
	}
	c := exec.Command(w, "-c", src)
	c.Env = env
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, dir)
	if pid == c.Process.Pid {
		t.Fatal("the compiler was exec'd, not run as a child")
	}
	c.Process.Signal(syscall.SIGTERM)
	err := c.Wait()
	ws, _ := c.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("immunix-cc ended with %v, want death by SIGTERM", err)
	}
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("the compiler (pid %d) outlived immunix-cc", pid)
}
