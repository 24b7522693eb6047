package ccwrap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// testRun runs Main in process with the real gcc, an Exec hook that
// records the command instead of running it, and guardlib hooks.
type testRun struct {
	env      *Env
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	execPath string
	execArgv []string
	execEnv  []string
}

func newTestRun(t *testing.T, args []string, env ...string) *testRun {
	t.Helper()
	testenv.NeedsTool(t, "gcc")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &testRun{}
	// cachedir reads the process environment.
	t.Setenv("IMMUNIX_CACHE_DIR", cacheRoot(t))
	base := []string{"PATH=" + os.Getenv("PATH"), "IMMUNIX_CC=gcc", "IMMUNIX_CONFIG=/nonexistent", "IMMUNIX_CACHE_DIR=" + cacheRoot(t)}
	r.env = &Env{
		Args: append([]string{"immunix-cc"}, args...), Environ: append(base, env...),
		Stdin: strings.NewReader(""), Stdout: &r.stdout, Stderr: &r.stderr, Self: self, ReadFile: os.ReadFile,
		Exec: func(path string, argv, env []string) error {
			r.execPath, r.execArgv, r.execEnv = path, argv, env
			return errors.New("recorded, not run")
		},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		LinkArgs: func(guardlib.Target) ([]string, error) {
			return []string{"-Wl,-u,__immunix_guard_init", "/fake/libimmunix-guard.a"}, nil
		},
		FormatGuardArgs: func() ([]string, error) { return nil, errors.New("no headers in this test") },
	}
	return r
}

var sharedCache string

func cacheRoot(t *testing.T) string {
	if sharedCache == "" {
		d, err := os.MkdirTemp("", "immunix-ccwrap-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedCache = d
	}
	return sharedCache
}

func TestMainFailsOpenWithoutRuntime(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	r := newTestRun(t, []string{"-O2", "hello.c", "-o", "hello"}, "IMMUNIX_LOG="+log)
	r.env.LinkArgs = func(guardlib.Target) ([]string, error) { return nil, guardlib.ErrNotBuilt }
	code := Main(r.env)
	if code != ExitExec || !strings.Contains(r.stderr.String(), "recorded, not run") {
		t.Fatalf("exit %d, stderr %q: want the recorded exec", code, r.stderr.String())
	}
	cmd := strings.Join(r.execArgv, " ")
	if strings.Contains(cmd, "libimmunix-guard") || strings.Contains(cmd, "-isystem") || !strings.Contains(cmd, "-pie") {
		t.Errorf("command %q: want no runtime, no FormatGuard, and the rest", cmd)
	}
	if !strings.HasSuffix(r.execPath, "/gcc") || r.execArgv[0] != r.execPath {
		t.Errorf("exec %s with argv[0] %s", r.execPath, r.execArgv[0])
	}
	found := false
	for _, kv := range r.execEnv {
		found = found || strings.HasPrefix(kv, MarkerEnv+"=")
	}
	if !found {
		t.Errorf("no %s in the compiler's environment", MarkerEnv)
	}
	data, _ := os.ReadFile(log)
	line := string(data)
	for _, want := range []string{"time=2026-01-02T03:04:05Z", " mode=link link=exe ", "link-on=pie,relro,now,noexecstack link-off", "runtime: guard runtime not available", "formatguard: no headers in this test"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	// The link note records what was applied: no runtime.
	for _, a := range r.execArgv {
		if strings.HasSuffix(a, "note.o") {
			return
		}
	}
	t.Errorf("no link note object in %q", cmd)
}

func TestMainStrictRefuses(t *testing.T) {
	r := newTestRun(t, []string{"-O2", "hello.c", "-o", "hello"}, "IMMUNIX_STRICT=1")
	code := Main(r.env)
	if code != ExitStrict || r.execArgv != nil || !strings.HasPrefix(r.stderr.String(), "immunix-cc: IMMUNIX_STRICT=1 refuses: formatguard") {
		t.Errorf("exit %d, stderr %q, exec %v: want 106 before running anything", code, r.stderr.String(), r.execArgv)
	}
	r = newTestRun(t, []string{"-O2", "hello.c", "-o", "hello"}, "IMMUNIX_STRICT=1")
	r.env.FormatGuardArgs = func() ([]string, error) { return []string{"-isystem", "/fake/fg"}, nil }
	r.env.LinkArgs = func(guardlib.Target) ([]string, error) { return nil, guardlib.ErrNotBuilt }
	if code := Main(r.env); code != ExitStrict || !strings.Contains(r.stderr.String(), "runtime") {
		t.Errorf("runtime missing under strict: exit %d, %q", code, r.stderr.String())
	}
}

func TestMainPassThroughAndExplain(t *testing.T) {
	r := newTestRun(t, []string{"--version"}, "IMMUNIX_FLAGS=-O2")
	Main(r.env)
	if len(r.execArgv) != 2 || r.execArgv[1] != "--version" {
		t.Errorf("query: ran %q, want the compiler with --version only", r.execArgv)
	}
	r = newTestRun(t, []string{"--immunix-explain", "-c", "-fno-stack-protector", "x.c"})
	if code := Main(r.env); code != 0 || r.execArgv != nil {
		t.Fatalf("explain: exit %d, exec %v", code, r.execArgv)
	}
	for _, want := range []string{"mode:      compile", "user-off=canary(-fno-stack-protector)", "note:    formatguard: no headers in this test", "command:   "} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout.String())
		}
	}
	// Called back through a launcher: the arguments run unchanged.
	r = newTestRun(t, []string{"-c", "x.c"}, MarkerEnv+"=/usr/bin/ccache")
	Main(r.env)
	if strings.Join(r.execArgv[1:], " ") != "-c x.c" {
		t.Errorf("re-entry ran %q", r.execArgv)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCache != "" {
		os.RemoveAll(sharedCache)
	}
	os.Exit(code)
}

// TestMainUnwritableCache: a cache that cannot be written costs the stamp
// (noted) but not the protections: the compiler is probed anyway.
func TestMainUnwritableCache(t *testing.T) {
	r := newTestRun(t, []string{"-O2", "-c", "hello.c"})
	t.Setenv("IMMUNIX_CACHE_DIR", "/proc/immunix-cache")
	Main(r.env)
	cmd := strings.Join(r.execArgv, " ")
	if !strings.Contains(cmd, "-fstack-protector-strong") || !strings.Contains(cmd, "-fstack-clash-protection") {
		t.Errorf("command %q: want the probed protections", cmd)
	}
	if strings.Contains(cmd, "immunix-stamp.h") {
		t.Errorf("command %q: a stamp header from an unwritable cache", cmd)
	}
	r = newTestRun(t, []string{"--immunix-explain", "-O2", "-c", "hello.c"})
	t.Setenv("IMMUNIX_CACHE_DIR", "/proc/immunix-cache")
	Main(r.env)
	for _, want := range []string{"probe:     compiler capabilities not cached", "stamp:     none: stamp header"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout.String())
		}
	}
}
