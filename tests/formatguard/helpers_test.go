package formatguard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

func TestMain(m *testing.M) {
	// A cache of our own, so the headers and runtime under test are the
	// ones in this tree, never a copy from older sources.
	dir, err := os.MkdirTemp("", "immunix-fg-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("IMMUNIX_CACHE_DIR", dir)
	guardlib.SystemDir = filepath.Join(dir, "no-system-copies")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// includeDir is formatguard/include in this tree.
func includeDir(t testing.TB) string {
	return filepath.Join(testenv.ModuleRoot(t), "formatguard", "include")
}

// immunixCC returns the immunix-cc (or immunix-c++) built from this tree.
func immunixCC(t testing.TB, cxx bool) string {
	dir := testenv.Binaries(t)
	if cxx {
		return filepath.Join(dir, "immunix-c++")
	}
	return filepath.Join(dir, "immunix-cc")
}

// build compiles the C source src into dir/name, through immunix-cc with
// the real compiler cc when protected, else with cc alone. Extra
// environment (IMMUNIX_*) goes to immunix-cc.
func build(t testing.TB, cc string, protected bool, dir, name, src string, env []string, flags ...string) (string, string, error) {
	t.Helper()
	testenv.NeedsTool(t, cc)
	srcPath := filepath.Join(dir, name+".c")
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", exe, srcPath)
	var cmd *exec.Cmd
	if protected {
		cmd = exec.Command(immunixCC(t, false), args...)
		cmd.Env = append(append(os.Environ(), "IMMUNIX_CC="+cc), env...)
	} else {
		cmd = exec.Command(cc, args...)
	}
	out, err := cmd.CombinedOutput()
	return exe, string(out), err
}

// result is what one run of a program produced.
type result struct {
	signal syscall.Signal
	code   int
	stdout string
	stderr string
	logs   []string
}

// run runs exe as argv0 with args, stdin and extra environment, with the
// syslog socket pointed at a fresh sink.
func run(t testing.TB, exe, argv0, stdin string, env []string, args ...string) result {
	t.Helper()
	s := testenv.NewSyslog(t)
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = argv0
	cmd.Dir = filepath.Dir(exe)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C", "IMMUNIX_SYSLOG_SOCKET=" + s.Path}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", exe, err)
	}
	r := result{stdout: so.String(), stderr: se.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.signal = ws.Signal()
	} else {
		r.code = ws.ExitStatus()
	}
	// Alerts are sent before the process dies: after it has been waited
	// for, every one is in Lines.
	r.logs = s.Lines()
	return r
}
