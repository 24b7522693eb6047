package stackguard

import (
	"debug/elf"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
