package ccwrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/stamp"
)

// fakeEnv runs run() with every side effect faked through Env: no
// compiler runs, nothing is probed, built or written (the compiler,
// /bin/true, is only looked up). tests/ccwrap runs the real compilers.
type fakeEnv struct {
	env      *Env
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	log      bytes.Buffer
	logPath  string
	spawns   []Child
	results  []fakeResult // what each Spawn returns, in order
	execArgv []string
	execErr  error
}

type fakeResult struct {
	status int
	stderr string
	err    error
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newFakeEnv(args []string, env ...string) *fakeEnv {
	f := &fakeEnv{execErr: errors.New("permission denied")}
	f.env = &Env{
		Args:    append([]string{"immunix-cc"}, args...),
		Environ: append([]string{"PATH=/usr/bin:/bin", "IMMUNIX_CC=/bin/true", "IMMUNIX_LOG=/fake/log"}, env...),
		Stdin:   strings.NewReader(""), Stdout: &f.stdout, Stderr: &f.stderr,
		ReadFile:   func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		ReadConfig: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		Exec: func(path string, argv, env []string) error {
			f.execArgv = argv
			return f.execErr
		},
		Now:    func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		Getwd:  func() (string, error) { return "/fake/wd", nil },
		Getpid: func() int { return 4242 },
		OpenLog: func(path string) (io.WriteCloser, error) {
			f.logPath = path
			return nopCloser{&f.log}, nil
		},
		Probe: func(cmd, abi []string) (string, Caps, string, error) {
			return "fakekey", Caps{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, DefaultPIE: true}, "", nil
		},
		LinkArgs:        func(guardlib.Target) ([]string, error) { return []string{"/fake/libimmunix-guard.a"}, nil },
		FormatGuardArgs: func() ([]string, error) { return []string{"-isystem", "/fake/fg"}, nil },
		StampHeader:     func() (string, error) { return "/fake/stamp.h", nil },
		LinkNote: func(string, []string, []string, stamp.Stamp) (string, error) {
			return "/fake/note.o", nil
		},
		NoUBSanDir: func() (string, error) { return "/fake/noubsan", nil },
		Spawn: func(c Child) (int, []byte, []byte, error) {
			f.spawns = append(f.spawns, c)
			if len(f.results) == 0 {
				return 0, nil, nil, nil
			}
			r := f.results[0]
			f.results = f.results[1:]
			return r.status, nil, []byte(r.stderr), r.err
		},
	}
	return f
}

// argv is the last command run, by Spawn or Exec.
func (f *fakeEnv) argv() string {
	if f.execArgv != nil {
		return strings.Join(f.execArgv, " ")
	}
	if len(f.spawns) > 0 {
		return strings.Join(f.spawns[len(f.spawns)-1].Argv, " ")
	}
	return ""
}

func TestRunFake(t *testing.T) {
	fgDiag := "hello.cc:3:5: error: in expansion of macro '__IMMUNIX_FG_CHECK'\n"
	for _, tt := range []struct {
		name   string
		args   []string
		env    []string
		setup  func(*fakeEnv)
		code   int
		spawns int      // children run
		exec   bool     // the process replaced (Exec)
		argv   []string // in the last command
		noArgv []string // not in the last command
		stdout []string
		stderr []string // "" : no stderr at all
		log    []string // "" : no log line
	}{
		{
			name: "compile", args: []string{"-O2", "-c", "hello.c", "-o", "hello.o"},
			code: 0, spawns: 1,
			argv:   []string{"/bin/true -fstack-protector-strong ", "-isystem /fake/fg", "on=canary,stackclash,cet,fortify,formatsec,formatguard,pie", " -O2 -c hello.c -o hello.o ", "-idirafter /fake -include stamp.h"},
			stderr: []string{""},
			log: []string{"time=2026-01-02T03:04:05Z pid=4242 ", " mode=compile ", " cc=/bin/true dir=/fake/wd out=hello.o ",
				"compile-on=canary,stackclash,cet,fortify,formatsec,formatguard,pie compile-off=- compile-user-off=- fortify=2\n"},
		},
		{
			name: "link", args: []string{"hello.o", "-o", "hello"},
			// No FormatGuard retry to run: the process is replaced by the
			// compiler (Exec, which the fake refuses).
			code: ExitExec, exec: true,
			argv:   []string{"/bin/true ", "/fake/libimmunix-guard.a", "/fake/note.o", "-pie"},
			stderr: []string{"immunix-cc: exec /bin/true: permission denied\n"},
			log:    []string{" mode=link link=exe ", "link-on="},
		},
		{
			name: "explain", args: []string{"--immunix-explain", "-c", "hello.c"},
			code: 0,
			stdout: []string{"compiler:  /bin/true (IMMUNIX_CC)\n", "caps:      gcc 12.2.0 ", "mode:      compile\n", "input:     hello.c (c)\n",
				"compile:   on=", "command:   /bin/true ", "-isystem /fake/fg"},
			stderr: []string{""}, log: []string{""},
		},
		{
			name: "bad config", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.env.ReadConfig = func(string) ([]byte, error) { return []byte("NOT A LINE\n"), nil }
			},
			code: ExitUsage, stderr: []string{"immunix-cc: usage: "}, log: []string{""},
		},
		{
			name: "bad value", args: []string{"-c", "hello.c"}, env: []string{"IMMUNIX_LEVEL=huge"},
			code: ExitUsage, stderr: []string{"immunix-cc: usage: ", "IMMUNIX_LEVEL"}, log: []string{""},
		},
		{
			name: "compiler not found", args: []string{"-c", "hello.c"}, env: []string{"IMMUNIX_CC=/nonexistent/gcc"},
			code: ExitNotFound, stderr: []string{"immunix-cc: IMMUNIX_CC /nonexistent/gcc: compiler not found: "}, log: []string{""},
		},
		{
			name: "assets fail open", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.env.FormatGuardArgs = func() ([]string, error) { return nil, errors.New("no headers") }
			},
			// Without the headers there is no retry to run: the process
			// is replaced (Exec, which the fake refuses: 105).
			code: ExitExec, exec: true, noArgv: []string{"/fake/fg"},
			stderr: []string{"immunix-cc: warning: formatguard left out (the stamp says failed=formatguard): no headers\n"},
			log:    []string{"formatguard: no headers"},
		},
		{
			name: "assets strict", args: []string{"hello.o", "-o", "hello"}, env: []string{"IMMUNIX_STRICT=1"},
			setup: func(f *fakeEnv) {
				f.env.LinkArgs = func(guardlib.Target) ([]string, error) { return nil, guardlib.ErrNotBuilt }
			},
			code: ExitStrict, stderr: []string{"immunix-cc: IMMUNIX_STRICT=1 refuses: runtime: guard runtime not available\n"}, log: []string{""},
		},
		{
			name: "probe fails strict", args: []string{"-c", "hello.c"}, env: []string{"IMMUNIX_STRICT=1"},
			setup: func(f *fakeEnv) {
				f.env.Probe = func([]string, []string) (string, Caps, string, error) {
					return "", Caps{}, "", errors.New("probe failed")
				}
			},
			code: ExitStrict, stderr: []string{"immunix-cc: IMMUNIX_STRICT=1 refuses: probe failed\n"}, log: []string{""},
		},
		{
			name: "own error", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{err: errors.New("buffer the compiler's stderr: no space left on device")}}
			},
			code: ExitInternal, spawns: 1, stderr: []string{"immunix-cc: buffer the compiler's stderr: no space left on device\n"}, log: []string{""},
		},
		{
			name: "child exec fails", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{err: fmt.Errorf("%w /bin/true: permission denied", errExec)}}
			},
			code: ExitExec, spawns: 1, stderr: []string{"immunix-cc: exec /bin/true: permission denied\n"}, log: []string{""},
		},
		{
			name: "compile error passes through", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{status: 1, stderr: "hello.c:1:1: error: expected ';'\n"}}
			},
			code: 1, spawns: 1, stderr: []string{"hello.c:1:1: error: expected ';'\n"}, log: []string{" mode=compile "},
		},
		{
			name: "log not writable", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.env.OpenLog = func(string) (io.WriteCloser, error) { return nil, errors.New("read-only file system") }
			},
			code: 0, spawns: 1, stderr: []string{"immunix-cc: warning: IMMUNIX_LOG: read-only file system\n"}, log: []string{""},
		},
		{
			name: "formatguard retried", args: []string{"-c", "hello.cc"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{status: 1, stderr: fgDiag}, {status: 0}}
			},
			code: 0, spawns: 2, noArgv: []string{"/fake/fg"}, argv: []string{" fg=retried"},
			stderr: []string{"immunix-cc: warning: formatguard left out of hello.cc (the stamp says failed=formatguard fg=retried)"},
			log:    []string{" fg=retried", "formatguard: the unit failed to compile with the FormatGuard headers"},
		},
		{
			name: "formatguard counts", args: []string{"-c", "hello.c"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{status: 1, stderr: "hello.c:3:5: error: /fake/fg/stdio.h\n"}, {status: 0}}
			},
			code: 0, spawns: 2, argv: []string{"-isystem /fake/fg", FormatGuardNoTypes, " fg=counts"},
			stderr: []string{"immunix-cc: warning: formatguard checks only the argument counts in hello.c (the stamp says fg=counts)"},
			log:    []string{" fg=counts"},
		},
		{
			name: "formatguard retry fails too", args: []string{"-c", "hello.cc"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{status: 1, stderr: fgDiag}, {status: 1, stderr: "hello.cc:2:1: error: second\n"}}
			},
			code: 1, spawns: 2, stderr: []string{"hello.cc:2:1: error: second\n"}, log: []string{" mode=compile "},
		},
		{
			name: "formatguard retry strict", args: []string{"-c", "hello.cc"}, env: []string{"IMMUNIX_STRICT=1"},
			setup: func(f *fakeEnv) {
				f.results = []fakeResult{{status: 1, stderr: fgDiag}, {status: 0}}
			},
			code: ExitStrict, spawns: 2,
			stderr: []string{fgDiag, "immunix-cc: IMMUNIX_STRICT=1 refuses: the unit compiles without FormatGuard (-isystem /fake/fg) but not with it\n"},
			log:    []string{""},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEnv(tt.args, tt.env...)
			if tt.setup != nil {
				tt.setup(f)
			}
			code := Main(f.env)
			stderr := f.stderr.String()
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			if len(f.spawns) != tt.spawns || (f.execArgv != nil) != tt.exec {
				t.Errorf("%d children, exec %t; want %d, %t", len(f.spawns), f.execArgv != nil, tt.spawns, tt.exec)
			}
			for _, c := range f.spawns {
				if c.Path != "/bin/true" || c.Argv[0] != "/bin/true" || !contains(c.Env, MarkerEnv+"=/bin/true") {
					t.Errorf("child %s %q with env %q: want /bin/true and the marker", c.Path, c.Argv, c.Env)
				}
			}
			argv := f.argv()
			for _, w := range tt.argv {
				if !strings.Contains(argv, w) {
					t.Errorf("command %q lacks %q", argv, w)
				}
			}
			for _, w := range tt.noArgv {
				if strings.Contains(argv, w) {
					t.Errorf("command %q has %q", argv, w)
				}
			}
			check := func(what, got string, want []string) {
				t.Helper()
				for _, w := range want {
					if w == "" && got != "" || !strings.Contains(got, w) {
						t.Errorf("%s %q: want %q", what, got, w)
					}
				}
			}
			check("stdout", f.stdout.String(), tt.stdout)
			check("stderr", stderr, tt.stderr)
			check("log", f.log.String(), tt.log)
			if f.log.Len() > 0 && (f.logPath != "/fake/log" || strings.Count(f.log.String(), "\n") != 1) {
				t.Errorf("log %s: %q, want one line", f.logPath, f.log.String())
			}
		})
	}
}

// TestOSEnvWiresAll: OSEnv sets every function of Env (the real
// providers), so nothing of the real process depends on a nil default.
func TestOSEnvWiresAll(t *testing.T) {
	v := reflect.ValueOf(*OSEnv())
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Func && f.IsNil() {
			t.Errorf("OSEnv leaves %s nil", v.Type().Field(i).Name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
