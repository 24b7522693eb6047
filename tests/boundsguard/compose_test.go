package boundsguard

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/testenv"
)

// oobSrc overflows a struct member by argv[1] - 4 elements; valid C and C++.
const oobSrc = `
#include <stdio.h>
#include <stdlib.h>
struct two { int a[4]; int guard; };
#ifdef LIB
int poke(int n)
#else
int main(int argc, char **argv)
#endif
{
#ifndef LIB
	int n = argc > 1 ? atoi(argv[1]) : 0;
#endif
	struct two t = {{0}, 0x5a5a};
	for (int i = 0; i < n; i++)
		t.a[i] = 0x41414141;
	printf("guard=%x\n", t.guard);
	return 0;
}
`

// boundsEnv turns BoundsGuard on whatever level it is in.
var boundsEnv = []string{"IMMUNIX_LEVEL=max", "IMMUNIX_DISABLE=autoinit,cxxassert,zeroregs,objsize"}

func immunixCC(t *testing.T, bin, cc string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "immunix-cc"), args...)
	cmd.Env = append(append(os.Environ(), "IMMUNIX_CC="+cc), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needed(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	return libs
}

// definedOOB reports whether path defines the guard runtime's bounds
// handler (in .symtab: it is hidden).
func definedOOB(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == "__ubsan_handle_out_of_bounds_abort" && s.Section != elf.SHN_UNDEF {
			return true
		}
	}
	return false
}

// TestNoLibubsan: C and C++, gcc and clang, dynamic, shared, static, in one
// command and compile-then-link: the program has no libubsan NEEDED,
// defines the handler itself, and the attack halts with a kind=bounds alert
// before the guard is written.
func TestNoLibubsan(t *testing.T) {
	bin := testenv.Binaries(t)
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	sink := testenv.NewSyslog(t)
	for _, cc := range append(testenv.Compilers(), testenv.CXXCompilers()...) {
		testenv.NeedsTool(t, cc)
		lang := "c"
		if strings.HasSuffix(cc, "++") {
			lang = "c++"
		}
		for _, link := range []string{"one-command", "separate", "static", "shared"} {
			t.Run(cc+"/"+link, func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(dir, "oob.c")
				if err := os.WriteFile(src, []byte(oobSrc), 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "oob")
				var steps [][]string
				switch link {
				case "one-command":
					steps = [][]string{{"-O2", "-x", lang, src, "-o", out}}
				case "static":
					steps = [][]string{{"-O2", "-static", "-x", lang, src, "-o", out}}
				case "separate":
					steps = [][]string{{"-O2", "-c", "-x", lang, src, "-o", out + ".o"}, {out + ".o", "-o", out}}
				case "shared":
					out = filepath.Join(dir, "liboob.so")
					steps = [][]string{{"-O2", "-DLIB", "-fPIC", "-shared", "-x", lang, src, "-o", out}}
				}
				for _, s := range steps {
					if o, err := immunixCC(t, bin, cc, boundsEnv, s...); err != nil {
						if link == "static" && strings.Contains(o, "cannot find -l") {
							testenv.Missing(t, "static libraries for "+cc+": "+o)
						}
						t.Fatalf("%v: %v\n%s", s, err, o)
					}
				}
				for _, lib := range needed(t, out) {
					if strings.Contains(lib, "ubsan") {
						t.Errorf("%s needs %s", out, lib)
					}
				}
				if !definedOOB(t, out) {
					t.Errorf("%s does not define the bounds handler", out)
				}
				if link == "shared" {
					return
				}
				var so, se bytes.Buffer
				cmd := exec.Command(out, "5")
				cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
				cmd.Stdout, cmd.Stderr = &so, &se
				err := cmd.Run()
				logs := sink.Take()
				if err == nil || so.Len() != 0 || len(logs) != 1 {
					t.Fatalf("attack: err %v stdout %q logs %q stderr %s", err, so.String(), logs, se.String())
				}
				_, body, _ := strings.Cut(logs[0], ": ")
				a, perr := alert.ParseBody(body)
				if perr != nil || a.Kind != "bounds" {
					t.Fatalf("alert %q: %v", logs[0], perr)
				}
				if idx, _ := a.Get("index"); idx != "4" {
					t.Errorf("index=%q in %s", idx, body)
				}
			})
		}
	}
}

// TestUserSanitizersCompose: the user's own -fsanitize=address or
// -fsanitize=undefined (recovering, and -fno-sanitize-recover) with gcc
// links, and the user's runtime stays in charge: the guard runtime's bounds
// handler is not in the program.
func TestUserSanitizersCompose(t *testing.T) {
	bin := testenv.Binaries(t)
	testenv.NeedsTool(t, "gcc")
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	for _, c := range []struct {
		name  string
		flags []string
		lib   string
	}{
		{"address", []string{"-fsanitize=address"}, "libasan"},
		{"undefined", []string{"-fsanitize=undefined"}, "libubsan"},
		{"undefined-abort", []string{"-fsanitize=undefined", "-fno-sanitize-recover=undefined"}, "libubsan"},
		// Calls through the GOT (call *slot(%rip)), not a PLT stub.
		{"undefined-noplt", []string{"-fsanitize=undefined", "-fno-plt"}, "libubsan"},
	} {
		for _, link := range []string{"one-command", "separate"} {
			t.Run(c.name+"/"+link, func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(dir, "oob.c")
				if err := os.WriteFile(src, []byte(oobSrc), 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "oob")
				var steps [][]string
				if link == "one-command" {
					steps = [][]string{append(append([]string{"-O1"}, c.flags...), src, "-o", out)}
				} else {
					steps = [][]string{append(append([]string{"-O1", "-c"}, c.flags...), src, "-o", out+".o"),
						append(append([]string{}, c.flags...), out+".o", "-o", out)}
				}
				for _, s := range steps {
					if o, err := immunixCC(t, bin, "gcc", boundsEnv, s...); err != nil {
						t.Fatalf("%v: %v\n%s", s, err, o)
					}
				}
				found := false
				for _, lib := range needed(t, out) {
					found = found || strings.HasPrefix(lib, c.lib)
				}
				if !found {
					t.Errorf("%s does not need the user's %s: %v", out, c.lib, needed(t, out))
				}
				if definedOOB(t, out) {
					t.Errorf("%s defines the guard runtime's bounds handler next to the user's %s", out, c.lib)
				}
				// The user's bounds checks count in immunix check, tied
				// through libubsan's PLT stub or GOT slot like the
				// guard runtime's.
				if c.lib == "libubsan" {
					if st, val := boundsVerdict(t, bin, out); st != "pass" || !strings.Contains(val, "libubsan") {
						t.Errorf("bounds %s %q, want pass through libubsan", st, val)
					}
				}
				cmd := exec.Command(out, "2")
				cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
				if o, err := cmd.CombinedOutput(); err != nil || string(o) != "guard=5a5a\n" {
					t.Errorf("benign run: %v %q", err, o)
				}
			})
		}
	}
}
