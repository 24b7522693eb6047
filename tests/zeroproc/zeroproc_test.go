// Package zeroproc tests the zero-process mode (docs/immunix-cc.md): the
// files "immunix toolchain-config" writes, used by the real gcc
// (-specs=) and clang (--config), with no immunix-cc in the build; the
// programs are judged by "immunix check --policy immunix", which must also
// tell them from immunix-cc's builds.
package zeroproc

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

func TestMain(m *testing.M) {
	// A cold cache of our own: the probes and nothing else land there.
	dir, err := os.MkdirTemp("", "immunix-zp-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("IMMUNIX_CACHE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// config returns the directory "immunix toolchain-config" wrote, once per
// test process.
func config(t *testing.T) string {
	t.Helper()
	return testenv.ZeroProcess(t).Dir
}

// driver is the compiler command of one zero-process mode.
func driver(t *testing.T, cc string) []string {
	dir := config(t)
	switch cc {
	case "gcc", "g++":
		return []string{cc, "-specs=" + filepath.Join(dir, "immunix.specs")}
	case "clang", "clang++":
		return []string{cc, "--config", filepath.Join(dir, "immunix-clang.cfg")}
	}
	t.Fatalf("no zero-process mode for %s", cc)
	return nil
}

func modeOf(cc string) string {
	if strings.HasPrefix(cc, "clang") {
		return "config"
	}
	return "specs"
}

// build compiles src (C) into dir/name with the zero-process driver of cc
// and flags, and returns the output's path.
func build(t *testing.T, cc, src, name string, flags ...string) string {
	t.Helper()
	return buildWith(t, driver(t, cc), nil, src, name, flags...)
}

// buildWith is build with the driver command d and env added to the
// test's environment.
func buildWith(t *testing.T, d, env []string, src, name string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append(append(append([]string{}, d[1:]...), flags...), "-o", out, c)
	cmd := exec.Command(d[0], args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", d[0], strings.Join(args, " "), err, b)
	} else if len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("%s %s: the build warned:\n%s", d[0], strings.Join(args, " "), b)
	}
	return out
}

// check runs "immunix check --policy immunix" on path and returns its exit
// code and each property's result.
func check(t *testing.T, path string) (int, map[string]testenv.CheckResult) {
	t.Helper()
	return testenv.CheckImmunix(t, path)
}

// failures lists the failing properties of a check, with their values.
func failures(res map[string]testenv.CheckResult) string {
	var out []string
	for p, r := range res {
		if r.Status == "fail" {
			out = append(out, fmt.Sprintf("%s (%s)", p, r.Value))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// linkNotes returns the texts of the link notes in path.
func linkNotes(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notes, err := stamp.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, n := range notes {
		if n.Type == stamp.Link {
			out = append(out, n.String())
		}
	}
	return out
}

// compileNote returns the text of the one compile note in path ("" for
// none), read with readelf as a user would.
func compileNotes(t *testing.T, path string) []string {
	t.Helper()
	out, _ := exec.Command("readelf", "-p", ".note.immunix", path).Output()
	var notes []string
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "v="); i >= 0 && strings.Contains(line, " lang=") {
			notes = append(notes, line[i:])
		}
	}
	return notes
}

// field returns the value of key in a note's text.
func field(note, key string) []string {
	for _, f := range strings.Fields(note) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			if v == "-" {
				return nil
			}
			return strings.Split(v, ",")
		}
	}
	return nil
}

const prog = `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char buf[32];
	strcpy(buf, argc > 1 ? argv[1] : "x");
	printf("%s %d\n", buf, argc);
	return 0;
}
`

// TestProtections builds one program with each driver and flags, and
// reads what immunix check proves from the code and what the stamp says.
func TestProtections(t *testing.T) {
	type want struct {
		pass    bool     // immunix check --policy immunix passes
		fail    []string // the properties that fail
		userOff []string // the compile note's user-off list
		notOn   []string // not in the compile note's on list
	}
	cases := []struct {
		name      string
		flags     []string
		compilers []string
		want      want
	}{
		{"default", []string{"-O2"}, nil, want{pass: true}},
		{"Os", []string{"-Os", "-g"}, nil, want{pass: true}},
		{"no-stack-protector", []string{"-O2", "-fno-stack-protector"}, nil,
			want{fail: []string{"canary", "stamp"}, userOff: []string{"canary"}, notOn: []string{"canary"}}},
		// Weaker forms are the user's choice, recorded (the code
		// still has its canary and its checked strcpy).
		{"weaker-stack-protector", []string{"-O2", "-fstack-protector"}, nil,
			want{fail: []string{"stamp"}, userOff: []string{"canary"}}},
		{"fortify-0", []string{"-O2", "-D_FORTIFY_SOURCE=0"}, nil,
			want{fail: []string{"fortify", "stamp"}, userOff: []string{"fortify"}, notOn: []string{"fortify"}}},
		{"fortify-separate-1", []string{"-O2", "-D", "_FORTIFY_SOURCE=1"}, nil,
			want{fail: []string{"stamp"}, userOff: []string{"fortify"}}},
		// A configuration file cannot see a -U of a macro nobody
		// defined: clang's mode is documented to miss it.
		{"undef-fortify", []string{"-O2", "-U_FORTIFY_SOURCE"}, []string{"gcc"},
			want{fail: []string{"fortify", "stamp"}, userOff: []string{"fortify"}}},
		{"no-pie", []string{"-O2", "-fno-pie", "-no-pie"}, nil,
			want{fail: []string{"pie", "stamp"}, userOff: []string{"pie"}, notOn: []string{"pie"}}},
		{"user-own-flags", []string{"-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE", "-pie", "-Wformat=2"}, nil, want{pass: true}},
		// No FORTIFY without optimisation (glibc would warn), as
		// immunix-cc: neither on nor user-off.
		{"O0", []string{"-O0", "-Werror", "-Wall"}, nil, want{fail: []string{"fortify"}, notOn: []string{"fortify"}}},
	}
	for _, tc := range cases {
		for _, cc := range []string{"gcc", "clang"} {
			if tc.compilers != nil && !slices.Contains(tc.compilers, cc) {
				continue
			}
			t.Run(tc.name+"/"+cc, func(t *testing.T) {
				exe := build(t, cc, prog, "prog", tc.flags...)
				out, err := exec.Command(exe, "hello").Output()
				if err != nil || string(out) != "hello 2\n" {
					t.Fatalf("run: %v, output %q", err, out)
				}
				code, res := check(t, exe)
				var failed []string
				for p, r := range res {
					if r.Status == "fail" && p != "cet" && p != "stripped" && p != "signature" && p != "bounds" {
						failed = append(failed, p)
					}
				}
				slices.Sort(failed)
				wantFail := slices.Clone(tc.want.fail)
				slices.Sort(wantFail)
				if !slices.Equal(failed, wantFail) {
					t.Errorf("failing properties %v, want %v", failed, wantFail)
				}
				if tc.want.pass != (code == 0) {
					t.Errorf("immunix check --policy immunix: exit %d, want pass=%v", code, tc.want.pass)
				}
				st := res["stamp"]
				if m := st.Lists["mode"]; !slices.Equal(m, []string{modeOf(cc)}) {
					t.Errorf("stamp mode %v, want [%s]", m, modeOf(cc))
				}
				if st.Status == "pass" && !strings.Contains(st.Value, "zero-process mode ("+modeOf(cc)+")") {
					t.Errorf("stamp value %q does not name the zero-process mode", st.Value)
				}
				notes := compileNotes(t, exe)
				if len(notes) != 1 {
					t.Fatalf("want one compile note, got %q", notes)
				}
				if got := field(notes[0], "user-off"); !slices.Equal(got, tc.want.userOff) {
					t.Errorf("compile note user-off=%v, want %v (%s)", got, tc.want.userOff, notes[0])
				}
				on := field(notes[0], "on")
				for _, p := range tc.want.notOn {
					if slices.Contains(on, p) {
						t.Errorf("compile note has %s on: %s", p, notes[0])
					}
				}
				if !slices.Contains(field(notes[0], "mode"), modeOf(cc)) {
					t.Errorf("compile note without mode=%s: %s", modeOf(cc), notes[0])
				}
			})
		}
	}
}

const freestanding = `
int sum(const char *s) { char b[64]; int n = 0; for (int i = 0; s[i] && i < 63; i++) { b[i] = s[i]; n += b[i]; } return n + b[0]; }
void _start(void) { for (;;) sum("x"); }
`

// TestBareBuilds: freestanding code and links without libc get none of
// the runtime, no canary (gcc: as immunix-cc; clang's configuration file
// has no conditions, so the kernel's own -fno-stack-protector is needed),
// no compile note.
func TestBareBuilds(t *testing.T) {
	cases := []struct {
		cc    string
		flags []string
	}{
		{"gcc", []string{"-O2", "-ffreestanding", "-nostdlib"}},
		{"gcc", []string{"-O2", "-nostdlib", "-fno-stack-protector", "-static"}},
		{"clang", []string{"-O2", "-ffreestanding", "-nostdlib", "-fno-stack-protector"}},
	}
	for _, tc := range cases {
		t.Run(tc.cc+strings.Join(tc.flags, ""), func(t *testing.T) {
			exe := build(t, tc.cc, freestanding, "bare", tc.flags...)
			out, err := exec.Command("nm", exe).CombinedOutput()
			if err != nil {
				t.Fatalf("nm: %v\n%s", err, out)
			}
			for _, sym := range []string{"__immunix_guard_init", "__stack_chk_fail", "__wrap_"} {
				if strings.Contains(string(out), sym) {
					t.Errorf("a bare build has %s:\n%s", sym, out)
				}
			}
			if slices.Contains(tc.flags, "-ffreestanding") {
				if n := compileNotes(t, exe); len(n) != 0 {
					t.Errorf("freestanding code has a compile note: %q", n)
				}
			}
		})
	}
}

// TestLinkKinds: a shared library, a static program and a program linked
// from objects compiled separately.
func TestLinkKinds(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		t.Run(cc+"/shared", func(t *testing.T) {
			lib := build(t, cc, strings.Replace(prog, "int main(", "int prog_main(", 1), "libprog.so", "-O2", "-fPIC", "-shared")
			_, res := check(t, lib)
			for _, p := range []string{"canary", "fortify", "stamp", "relro", "now"} {
				if res[p].Status != "pass" {
					t.Errorf("%s: %s %q", p, res[p].Status, res[p].Value)
				}
			}
			// --dynamic-list would have made the library's own symbols
			// bind locally; the library exports what its plain build does.
			out, _ := exec.Command("readelf", "--dyn-syms", "-W", lib).Output()
			if !strings.Contains(string(out), "prog_main") {
				t.Errorf("prog_main not exported:\n%s", out)
			}
		})
		t.Run(cc+"/static", func(t *testing.T) {
			exe := build(t, cc, prog, "prog", "-O2", "-static")
			if out, err := exec.Command(exe, "s").Output(); err != nil || string(out) != "s 2\n" {
				t.Fatalf("run: %v %q", err, out)
			}
			out, _ := exec.Command("nm", exe).Output()
			if !strings.Contains(string(out), "__immunix_guard_init") {
				t.Errorf("a static program without the guard runtime")
			}
		})
		t.Run(cc+"/separate", func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "p.c")
			if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
				t.Fatal(err)
			}
			d := driver(t, cc)
			obj, exe := filepath.Join(dir, "p.o"), filepath.Join(dir, "p")
			for _, args := range [][]string{{"-O2", "-c", src, "-o", obj}, {obj, "-o", exe}} {
				if out, err := exec.Command(d[0], append(slices.Clone(d[1:]), args...)...).CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
			}
			if code, res := check(t, exe); code != 0 {
				t.Errorf("immunix check --policy immunix: exit %d: %+v", code, res)
			}
			// Preprocessing alone gets no note from gcc's specs: its
			// output is C. A clang configuration file cannot tell -E
			// (documented).
			if cc != "gcc" {
				return
			}
			out, err := exec.Command(d[0], append(slices.Clone(d[1:]), "-O2", "-E", src)...).Output()
			if err != nil || bytes.Contains(out, []byte(".note.immunix")) {
				t.Errorf("-E: %v, note in the output: %v", err, bytes.Contains(out, []byte(".note.immunix")))
			}
		})
	}
}

// smash overflows a stack buffer byte by byte, so only the canary sees it.
const smash = `#include <stdlib.h>
#include <stdio.h>
__attribute__((noinline)) int vuln(const char *src, size_t n)
{
	char buf[16];
	for (size_t i = 0; i < n; i++)
		buf[i] = src[i];
	return buf[0] + buf[n > 1 ? 1 : 0];
}
int main(int argc, char **argv)
{
	static char big[256];
	for (int i = 0; i < 255; i++)
		big[i] = 'A';
	printf("survived %d\n", vuln(big, (size_t)atoi(argv[1])));
	return 0;
}
`

// TestSmashRaisesAlert: a smashed stack in a zero-process build raises the
// guard runtime's alert (one syslog record on the socket the test binds,
// then SIGABRT), as in an immunix-cc build (tests/stackguard).
func TestSmashRaisesAlert(t *testing.T) {
	for _, tc := range []struct {
		cc    string
		flags []string
	}{
		{"gcc", []string{"-O2"}},
		{"clang", []string{"-O2"}},
		{"gcc", []string{"-O2", "-static"}},
		{"clang", []string{"-O0"}},
	} {
		t.Run(tc.cc+strings.Join(tc.flags, ""), func(t *testing.T) {
			exe := build(t, tc.cc, smash, "smash", tc.flags...)
			for _, n := range []string{"8", "64"} {
				sink := testenv.NewSyslog(t)
				cmd := exec.Command(exe, n)
				cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
				var errb bytes.Buffer
				cmd.Stderr = &errb
				err := cmd.Run()
				logs := sink.Lines()
				if n == "8" {
					if err != nil || len(logs) != 0 {
						t.Fatalf("benign run: %v, alerts %q", err, logs)
					}
					continue
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGABRT {
					t.Fatalf("smashed run: want SIGABRT, got %v\n%s", err, errb.String())
				}
				if len(logs) != 1 || !strings.Contains(logs[0], "kind=stackguard") || !strings.Contains(logs[0], "stack canary overwritten") {
					t.Fatalf("want one stackguard alert, got %q (stderr %q)", logs, errb.String())
				}
			}
		})
	}
}

// TestDefaultSpecs: DIR/gcc/specs is a complete specs file; read as gcc's
// own, plain gcc builds protected, stamped programs. Two ways to have gcc
// read it without installing it in gcc's directory: -B DIR/gcc/ (gcc looks
// for "specs" there first) and LIBRARY_PATH=DIR/gcc/ (there last; the
// route TestNames and the rebuilds take, testenv.DefaultSpecsEnv).
func TestDefaultSpecs(t *testing.T) {
	dir := config(t)
	for _, tc := range []struct {
		name       string
		flags, env []string
	}{
		{"-B", []string{"-B", filepath.Join(dir, "gcc") + "/"}, nil},
		{"LIBRARY_PATH", nil, []string{testenv.ZeroProcess(t).DefaultSpecsEnv()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			src, exe := filepath.Join(tmp, "p.c"), filepath.Join(tmp, "p")
			if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("gcc", append(tc.flags, "-v", "-O2", "-o", exe, src)...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "Reading specs from "+filepath.Join(dir, "gcc", "specs")) {
				t.Fatalf("gcc did not read the default specs:\n%s", out)
			}
			if code, res := check(t, exe); code != 0 || !slices.Equal(res["stamp"].Lists["mode"], []string{"specs"}) {
				t.Errorf("immunix check --policy immunix: exit %d, stamp %+v", code, res["stamp"])
			}
		})
	}
}

// TestNames is the wrapper's masquerade matrix (tests/ccwrap TestMasquerade,
// over testenv.MasqueradeNames) in the zero-process mode: every compiler
// name a package build calls, by every route to the mode
// (testenv.ZeroProcRoutes: gcc's names with no flag at all, through the
// default specs; clang's with --config and under a prefixed name), builds
// a program that runs, that immunix check --policy immunix passes and
// whose stamp shows the mode. The attack side, by the same name and
// route: the user's -fno-stack-protector wins, is recorded, and check
// refuses the program for it; a freestanding object gets no note.
func TestNames(t *testing.T) {
	z := testenv.ZeroProcess(t)
	for _, name := range testenv.MasqueradeNames {
		if _, err := exec.LookPath(name); err != nil {
			continue // this machine has no such compiler
		}
		for _, route := range testenv.ZeroProcRoutes(name) {
			t.Run(name+"/"+route, func(t *testing.T) {
				argv, env := z.Command(route, name)
				dir := t.TempDir()
				src, text, lang := filepath.Join(dir, "p.c"), prog, "c"
				if strings.Contains(name, "++") {
					src, text, lang = filepath.Join(dir, "p.cc"), cxxProg, "c++"
				}
				if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				cc := func(args ...string) string {
					t.Helper()
					cmd := exec.Command(argv[0], append(slices.Clone(argv[1:]), args...)...)
					cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s %s: %v\n%s", strings.Join(argv, " "), strings.Join(args, " "), err, out)
					}
					return args[len(args)-1]
				}
				mode := testenv.RouteMode(route)
				exe := filepath.Join(dir, cc("-O2", src, "-o", "prog"))
				if out, err := exec.Command(exe, "hi").Output(); err != nil || !strings.HasPrefix(string(out), "hi ") {
					t.Fatalf("run: %v, output %q", err, out)
				}
				code, res := check(t, exe)
				if code != 0 {
					t.Errorf("immunix check --policy immunix: exit %d, failed %s", code, failures(res))
				}
				if m := res["stamp"].Lists["mode"]; !slices.Equal(m, []string{mode}) {
					t.Errorf("stamp mode %v, want [%s]", m, mode)
				}
				notes := compileNotes(t, exe)
				if len(notes) != 1 || !slices.Equal(field(notes[0], "lang"), []string{lang}) || !slices.Equal(field(notes[0], "mode"), []string{mode}) {
					t.Errorf("compile notes %q, want one with lang=%s mode=%s", notes, lang, mode)
				}

				weak := filepath.Join(dir, cc("-O2", "-fno-stack-protector", src, "-o", "weak"))
				code, res = check(t, weak)
				if code != 1 || res["canary"].Status != "fail" {
					t.Errorf("-fno-stack-protector: immunix check exit %d, canary %s %q; want refused for the canary", code, res["canary"].Status, res["canary"].Value)
				}
				if n := compileNotes(t, weak); len(n) != 1 || !slices.Equal(field(n[0], "user-off"), []string{"canary"}) {
					t.Errorf("-fno-stack-protector: compile notes %q, want user-off=canary", n)
				}

				obj := filepath.Join(dir, cc("-O2", "-ffreestanding", "-fno-stack-protector", "-c", src, "-o", "bare.o"))
				if n := compileNotes(t, obj); len(n) != 0 {
					t.Errorf("a freestanding object has a compile note: %q", n)
				}
			})
		}
	}
}

// TestOtherABI: with gcc-multilib, -m32 and -mx32 links in the mode get
// the guard runtime and the link note built for that ABI, chosen by the
// flag in the specs (the -specs= file and the default specs alike), and
// immunix check --policy immunix passes on them; a bare link gets no
// runtime and the bare link's note.
// A static link has its runtime exactly when it has its link note
// (toolchain-config leaves both out for an ABI whose static libc clashes
// with the runtime, and says so). The ELF files are read; the programs
// run only where the kernel runs that ABI (testenv.ProbeABI).
func TestOtherABI(t *testing.T) {
	z := testenv.ZeroProcess(t)
	want := map[string]elf.Machine{"-m32": elf.EM_386, "-mx32": elf.EM_X86_64}
	for _, abi := range []string{"-m32", "-mx32"} {
		t.Run(abi, func(t *testing.T) {
			testenv.NeedsABIBuild(t, abi)
			runs := testenv.ProbeABI(abi).Runs
			for _, tc := range []struct {
				name  string
				flags []string
				env   []string
			}{
				{"exe", []string{"-O2"}, nil},
				{"exe-default-specs", []string{"-O2"}, []string{z.DefaultSpecsEnv()}},
				{"shared", []string{"-O2", "-fPIC", "-shared"}, nil},
				{"static", []string{"-O2", "-static"}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var exe string
					if tc.env == nil {
						exe = build(t, "gcc", prog, "prog", append([]string{abi}, tc.flags...)...)
					} else {
						exe = buildWith(t, []string{"gcc"}, tc.env, prog, "prog", append([]string{abi}, tc.flags...)...)
					}
					f, err := elf.Open(exe)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if f.Class != elf.ELFCLASS32 || f.Machine != want[abi] {
						t.Fatalf("%s: %v %v, want ELFCLASS32 %v", abi, f.Class, f.Machine, want[abi])
					}
					hasRuntime := hasSymbol(f, "__immunix_")
					link := linkNotes(t, exe)
					if tc.name == "static" {
						if hasRuntime != (len(link) == 1) {
							t.Errorf("static: runtime linked %v, link notes %q: a note without the runtime, or the runtime unrecorded", hasRuntime, link)
						}
						t.Logf("%s -static: runtime and link note %v", abi, hasRuntime)
					} else {
						if !hasRuntime {
							t.Errorf("no guard runtime in the %s link", abi)
						}
						if len(link) != 1 || !slices.Contains(field(link[0], "on"), "runtime") || !slices.Equal(field(link[0], "mode"), []string{"specs"}) {
							t.Errorf("link notes %q, want one with runtime on and mode=specs", link)
						}
						if code, res := check(t, exe); code != 0 {
							t.Errorf("immunix check --policy immunix: exit %d, failed %s", code, failures(res))
						}
					}
					if n := compileNotes(t, exe); len(n) != 1 || !slices.Contains(field(n[0], "on"), "canary") {
						t.Errorf("compile notes %q", n)
					}
					if tc.name == "shared" {
						return
					}
					if !runs {
						t.Logf("not run: %s", testenv.ProbeABI(abi).Reason)
						return
					}
					if out, err := exec.Command(exe, "hi").Output(); err != nil || string(out) != "hi 2\n" {
						t.Errorf("run: %v, output %q", err, out)
					}
				})
			}
			t.Run("bare", func(t *testing.T) {
				exe := build(t, "gcc", freestanding, "bare", abi, "-O2", "-ffreestanding", "-nostdlib")
				f, err := elf.Open(exe)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if hasSymbol(f, "__immunix_") || hasSymbol(f, "__stack_chk_fail") {
					t.Errorf("a bare %s link has the runtime or a canary", abi)
				}
				// The bare link's own note, as natively: noexecstack only.
				if n := linkNotes(t, exe); len(n) != 1 || !slices.Equal(field(n[0], "on"), []string{"noexecstack"}) {
					t.Errorf("a bare %s link's notes %q, want one with on=noexecstack", abi, n)
				}
			})
		})
	}
}

// hasSymbol reports whether f's symbol tables name a symbol starting with
// prefix.
func hasSymbol(f *elf.File, prefix string) bool {
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	for _, s := range append(syms, dyn...) {
		if strings.HasPrefix(s.Name, prefix) {
			return true
		}
	}
	return false
}

// TestRebuildLikeWrapper rebuilds GNU hello (Debian's source: autoconf,
// gnulib) in the zero-process mode and through immunix-cc with the same
// compiler, and holds every verdict of immunix check on the two programs
// equal: the mode gives a real build what the wrapper gives it.
func TestRebuildLikeWrapper(t *testing.T) {
	bin := testenv.Binaries(t)
	for _, cc := range []string{"gcc", "clang"} {
		t.Run(cc, func(t *testing.T) {
			built := map[string]string{}
			for _, side := range []string{"zero-process", "wrapper"} {
				dir := testenv.DebianSource(t, "hello")
				ccVar, env := strings.Join(driver(t, cc), " "), os.Environ()
				if side == "wrapper" {
					ccVar, env = filepath.Join(bin, "immunix-cc"), append(env, "IMMUNIX_CC="+cc)
				}
				for _, argv := range [][]string{{"./configure", "CC=" + ccVar, "CFLAGS=-O2 -g"}, {"make", "-j2"}} {
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Dir, cmd.Env = dir, env
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s: %s: %v\n%s", side, strings.Join(argv, " "), err, out)
					}
				}
				built[side] = filepath.Join(dir, "hello")
			}
			_, zp := check(t, built["zero-process"])
			_, wr := check(t, built["wrapper"])
			for p, w := range wr {
				if z := zp[p]; z.Status != w.Status {
					t.Errorf("%s: zero-process %s (%s), immunix-cc %s (%s)", p, z.Status, z.Value, w.Status, w.Value)
				}
			}
			if m := zp["stamp"].Lists["mode"]; !slices.Equal(m, []string{modeOf(cc)}) {
				t.Errorf("zero-process build: stamp mode %v", m)
			}
			if m := wr["stamp"].Lists["mode"]; !slices.Equal(m, []string{"wrapper"}) {
				t.Errorf("immunix-cc build: stamp mode %v", m)
			}
		})
	}
}

const cxxProg = `#include <cstdio>
#include <cstring>
#include <string>
int main(int argc, char **argv)
{
	char buf[32];
	std::strcpy(buf, argc > 1 ? argv[1] : "x");
	std::string s(buf);
	std::printf("%s %zu\n", s.c_str(), s.size());
	return 0;
}
`

// TestCXX: the C++ drivers read the same files; the compile note says
// lang=c++ and the mode.
func TestCXX(t *testing.T) {
	for _, cxx := range []string{"g++", "clang++"} {
		t.Run(cxx, func(t *testing.T) {
			testenv.NeedsTool(t, cxx)
			dir := t.TempDir()
			src, exe := filepath.Join(dir, "p.cc"), filepath.Join(dir, "p")
			if err := os.WriteFile(src, []byte(cxxProg), 0o644); err != nil {
				t.Fatal(err)
			}
			d := driver(t, cxx)
			if out, err := exec.Command(d[0], append(slices.Clone(d[1:]), "-O2", "-o", exe, src)...).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if out, err := exec.Command(exe, "hi").Output(); err != nil || string(out) != "hi 2\n" {
				t.Fatalf("run: %v %q", err, out)
			}
			notes := compileNotes(t, exe)
			if len(notes) != 1 || !slices.Equal(field(notes[0], "lang"), []string{"c++"}) || !slices.Equal(field(notes[0], "mode"), []string{modeOf(cxx)}) {
				t.Errorf("compile notes %q", notes)
			}
			_, res := check(t, exe)
			for _, p := range []string{"canary", "stamp", "relro", "now", "pie", "raceguard"} {
				if res[p].Status != "pass" {
					t.Errorf("%s: %s %q", p, res[p].Status, res[p].Value)
				}
			}
		})
	}
}
