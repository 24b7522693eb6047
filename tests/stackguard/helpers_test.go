package stackguard

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

func TestMain(m *testing.M) {
	// A cold cache of our own, so the tests build the runtime as a user's
	// first link would, and never reuse an archive from older sources.
	dir, err := os.MkdirTemp("", "immunix-sg-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("IMMUNIX_CACHE_DIR", dir)
	// Prebuilt system copies would hide the build under test.
	guardlib.SystemDir = filepath.Join(dir, "no-system-copies")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// variant is one way of building a test program.
type variant struct {
	cc     string   // gcc, clang, g++, clang++
	abi    []string // e.g. -m32
	static bool
}

func (v variant) String() string {
	s := v.cc
	if len(v.abi) > 0 {
		s += strings.Join(v.abi, "")
	}
	if v.static {
		s += "-static"
	}
	return s
}

func (v variant) cxx() bool { return strings.Contains(v.cc, "++") }

// variants is the matrix every alert test runs: both compilers, C and C++,
// dynamic and static, and 32-bit x86 for C.
func variants() []variant {
	var vs []variant
	for _, cc := range []string{"gcc", "clang", "g++", "clang++"} {
		for _, st := range []bool{false, true} {
			vs = append(vs, variant{cc: cc, static: st})
		}
	}
	vs = append(vs, variant{cc: "gcc", abi: []string{"-m32"}}, variant{cc: "clang", abi: []string{"-m32"}})
	return vs
}

// lateFlags separates, in compile's flags, those that go before the source
// from those (libraries) that go after it.
const lateFlags = "--late--"

// compile builds src (C, or C++ for a C++ compiler) into out with flags.
// withRuntime builds through immunix-cc (immunix-c++ for C++) with v.cc as
// the real compiler, so the guard runtime is linked as users get it, and
// checks that it was; otherwise v.cc runs directly.
func compile(t testing.TB, v variant, src, out string, withRuntime bool, flags ...string) {
	t.Helper()
	testenv.NeedsTool(t, v.cc)
	dir := filepath.Dir(out)
	name := filepath.Base(out) + ".c"
	lang := "c"
	if v.cxx() {
		name = filepath.Base(out) + ".cc"
		lang = "c++"
	}
	srcPath := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{}, v.abi...)
	if v.static {
		args = append(args, "-static")
	}
	var late []string
	for i, f := range flags {
		if f == lateFlags {
			flags, late = flags[:i], flags[i+1:]
			break
		}
	}
	args = append(args, flags...)
	args = append(args, "-x", lang, srcPath, "-x", "none", "-o", out)
	args = append(args, late...)
	cc := v.cc
	var env []string
	if withRuntime {
		bin := testenv.Binaries(t)
		if v.cxx() {
			cc = filepath.Join(bin, "immunix-c++")
			env = append(env, "IMMUNIX_CXX="+v.cc)
		} else {
			cc = filepath.Join(bin, "immunix-cc")
			env = append(env, "IMMUNIX_CC="+v.cc)
		}
	}
	cmd := exec.Command(cc, args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s %s: %v\n%s", strings.Join(env, " "), cc, strings.Join(args, " "), err, b)
	}
	if withRuntime {
		// The runtime's fork-handler flag is a global symbol of every
		// linked object that carries the runtime.
		f, err := elf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		syms, _ := f.Symbols()
		linked := false
		for _, s := range syms {
			if s.Name == "__immunix_renew_claimed" && s.Section != elf.SHN_UNDEF {
				linked = true
			}
		}
		if !linked {
			t.Fatalf("immunix-cc did not link the guard runtime into %s", out)
		}
	}
	// Built (and the runtime linked): every test runs what it compiles,
	// which needs the kernel to execute that ABI.
	for _, abi := range v.abi {
		testenv.NeedsABIRun(t, abi)
	}
}

// result is what running a test program produced.
type result struct {
	pid    int
	signal syscall.Signal // 0 when it exited
	code   int
	stdout string
	stderr string
	logs   []string
}

// run runs exe with args and the syslog socket pointed at a fresh sink.
func run(t testing.TB, exe string, args ...string) result {
	t.Helper()
	sink := testenv.NewSyslog(t)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", exe, err)
	}
	r := result{pid: cmd.Process.Pid, stdout: so.String(), stderr: se.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.signal = ws.Signal()
	} else {
		r.code = ws.ExitStatus()
	}
	// A datagram is in the socket's queue when sendmsg returns, so by the
	// time the process has been reaped every alert it sent is in Lines.
	r.logs = sink.Lines()
	return r
}

// oneAlert checks that r died of SIGABRT after exactly one syslog alert and
// one stderr alert line carrying the same body, and returns the alert.
func oneAlert(t testing.TB, r result, exe string) alert.Alert {
	t.Helper()
	if r.signal != syscall.SIGABRT {
		t.Fatalf("want death by SIGABRT, got signal %v exit %d\nstdout: %s\nstderr: %s", r.signal, r.code, r.stdout, r.stderr)
	}
	if len(r.logs) != 1 {
		t.Fatalf("want exactly one syslog record, got %d: %q", len(r.logs), r.logs)
	}
	rec := r.logs[0]
	wantHead := fmt.Sprintf("<81>immunix[%d]: ", r.pid)
	if !strings.HasPrefix(rec, wantHead) {
		t.Fatalf("syslog record %q does not start with %q", rec, wantHead)
	}
	body := strings.TrimPrefix(rec, wantHead)
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "immunix alert: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || lines[0] != body {
		t.Fatalf("want one stderr alert line equal to the syslog body %q, got %q", body, lines)
	}
	var p alert.Parser
	a, err := p.ParseLine(rec)
	if err != nil {
		t.Fatalf("parse alert %q: %v", rec, err)
	}
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	if a.Exe != real {
		t.Errorf("alert exe=%q, want %q", a.Exe, real)
	}
	if a.PID != r.pid {
		t.Errorf("alert pid=%d, want %d", a.PID, r.pid)
	}
	if a.UID != os.Getuid() {
		t.Errorf("alert uid=%d, want %d", a.UID, os.Getuid())
	}
	if a.Priority != 81 {
		t.Errorf("alert priority %d, want 81 (authpriv.alert)", a.Priority)
	}
	return a
}

// checkInFunction checks that the alert's off= lies inside function fn of
// the ELF file obj.
func checkInFunction(t testing.TB, a alert.Alert, obj, fn string) {
	t.Helper()
	offS, ok := a.Get("off")
	if !ok {
		t.Fatalf("alert has no off= field: %s", a.Body())
	}
	off, err := strconv.ParseUint(strings.TrimPrefix(offS, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("alert off=%q: %v", offS, err)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("symbols of %s: %v", obj, err)
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && (s.Name == fn || strings.HasPrefix(s.Name, fn+".") || strings.HasPrefix(s.Name, "_Z"+strconv.Itoa(len(fn))+fn)) {
			if off >= s.Value && off < s.Value+s.Size {
				return
			}
			t.Errorf("alert off=%#x is not inside %s [%#x,%#x) of %s", off, s.Name, s.Value, s.Value+s.Size, obj)
			return
		}
	}
	t.Errorf("no function %s in %s", fn, obj)
}
