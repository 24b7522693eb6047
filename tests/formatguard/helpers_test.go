package formatguard

import (
	"bytes"
	"errors"
	"fmt"
	"net"
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

// sink is a unixgram socket standing in for /dev/log.
type sink struct {
	path string
	conn *net.UnixConn
}

func newSink(t testing.TB) *sink {
	t.Helper()
	dir, err := os.MkdirTemp("", "fg") // sun_path is short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatalf("bind %s: %v", p, err)
	}
	t.Cleanup(func() { c.Close() })
	return &sink{path: p, conn: c}
}

// drain returns the datagrams already queued on the socket. Alerts are sent
// before the process dies, so after it has been waited for they are all
// there; a non-blocking read cannot lose a race with a busy machine.
func (s *sink) drain() []string {
	var out []string
	raw, err := s.conn.SyscallConn()
	if err != nil {
		return nil
	}
	buf := make([]byte, 65536)
	for {
		n := -1
		var rerr error
		if err := raw.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}); err != nil || rerr != nil || n < 0 {
			return out
		}
		out = append(out, string(buf[:n]))
	}
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
	s := newSink(t)
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = argv0
	cmd.Dir = filepath.Dir(exe)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C", "IMMUNIX_SYSLOG_SOCKET=" + s.path}, env...)
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
	r.logs = s.drain()
	return r
}
