package stackguard

import (
	"debug/elf"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// abiLibSrc is a library with canaried functions and fortified calls
// (memcpy, strcpy, snprintf, fgets, read: their __*_chk entry points are
// among those the runtime defines).
const abiLibSrc = `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __cplusplus
#include <string>
std::string cxx_join(const std::string &a, const std::string &b) { return a + "/" + b; }
extern "C" {
#endif
int lib_copy(char *dst, size_t n, const char *src)
{
	char tmp[32];
	strcpy(tmp, src);
	memcpy(dst, tmp, n);
	return snprintf(dst, n, "%s", tmp);
}
int lib_line(char *out, int n, FILE *f)
{
	char buf[64];
	if (!fgets(buf, n, f))
		return -1;
	return (int)read(0, out, (size_t)n) + buf[0];
}
#ifdef __cplusplus
}
#endif
`

// dynSyms returns the defined (name@version) and undefined (name) dynamic
// symbols of a shared object.
func dynSyms(t *testing.T, path string) (defined, undefined []string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF {
			undefined = append(undefined, s.Name)
		} else {
			defined = append(defined, s.Name+"@"+s.Version)
		}
	}
	sort.Strings(defined)
	sort.Strings(undefined)
	return defined, undefined
}

// TestSharedLibraryKeepsItsABI: a shared library built by immunix-cc
// exports exactly the symbols of its plain build with the same hardening
// flags (no __stack_chk_fail, no __*_chk, no __immunix_*: on main it
// exported all three kinds, and a strict symbols file refused them), and
// imports __stack_chk_fail and the __*_chk functions as the plain build
// does, which is what hardening-check, checksec and lintian read.
func TestSharedLibraryKeepsItsABI(t *testing.T) {
	for _, cc := range []string{"gcc", "clang", "g++", "clang++"} {
		t.Run(cc, func(t *testing.T) {
			v := variant{cc: cc}
			dir := t.TempDir()
			plain := filepath.Join(dir, "libplain.so")
			imm := filepath.Join(dir, "libimm.so")
			flags := []string{"-O2", "-fPIC", "-shared", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=3"}
			if v.cxx() {
				flags = append(flags, "-D_GLIBCXX_ASSERTIONS")
			}
			compile(t, v, abiLibSrc, plain, false, flags...)
			compile(t, v, abiLibSrc, imm, true, flags...)
			pd, pu := dynSyms(t, plain)
			id, iu := dynSyms(t, imm)
			if !slices.Equal(pd, id) {
				t.Errorf("exports differ from the plain build's:\nplain:   %s\nimmunix: %s", strings.Join(pd, " "), strings.Join(id, " "))
			}
			if !slices.Contains(pu, "__stack_chk_fail") {
				t.Fatalf("the plain build imports no __stack_chk_fail (%s): the test's library needs a canary", strings.Join(pu, " "))
			}
			for _, n := range pu {
				if (n == "__stack_chk_fail" || strings.HasSuffix(n, "_chk")) && !slices.Contains(iu, n) {
					t.Errorf("the plain build imports %s, the immunix build does not (imports: %s)", n, strings.Join(iu, " "))
				}
			}
		})
	}
}

// TestSharedLibraryFortify: a library built by immunix-cc overflows through
// a fortified strcpy. Its __strcpy_chk import binds to the immunix
// program's exported copy (kind=fortify alert naming the library), and to
// glibc's in a plain program (glibc's message, no alert).
func TestSharedLibraryFortify(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		t.Run(cc, func(t *testing.T) {
			v := variant{cc: cc}
			dir := t.TempDir()
			lib := filepath.Join(dir, "libf.so")
			compile(t, v, "#include <string.h>\nint fsmash(const char *s) { char b[8]; strcpy(b, s); return b[0]; }\n", lib, true, "-O2", "-fPIC", "-shared")
			mainSrc := "#include <stdlib.h>\nint fsmash(const char *s);\nint main(int c, char **v) { (void)c; return fsmash(v[1]); }\n"
			for _, immunix := range []bool{true, false} {
				exe := filepath.Join(dir, "prog-plain")
				if immunix {
					exe = filepath.Join(dir, "prog-immunix")
				}
				compile(t, v, mainSrc, exe, immunix, "-O2", lateFlags, "-L"+dir, "-lf", "-Wl,-rpath,"+dir)
				if r := run(t, exe, "short"); r.signal != 0 || len(r.logs) != 0 {
					t.Fatalf("%s, benign run: %+v", exe, r)
				}
				r := run(t, exe, strings.Repeat("A", 40))
				if !immunix {
					if r.signal != syscall.SIGABRT || len(r.logs) != 0 || !strings.Contains(r.stderr, "*** buffer overflow detected ***") {
						t.Errorf("plain program: want glibc's message and SIGABRT, no alert; got signal %v logs %q stderr %q", r.signal, r.logs, r.stderr)
					}
					continue
				}
				a := oneAlert(t, r, exe)
				if c, _ := a.Get("check"); a.Kind != "fortify" || c != "__strcpy_chk" {
					t.Errorf("alert kind=%q check=%q: %s", a.Kind, c, a.Body())
				}
				if obj, _ := a.Get("obj"); obj != lib {
					t.Errorf("alert obj=%q, want %q: %s", obj, lib, a.Body())
				}
			}
		})
	}
}
