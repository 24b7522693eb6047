package stackguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// checkerSrc has one function that needs a canary (a char array filled by
// strcpy), so every build of it calls __stack_chk_fail.
const checkerSrc = `
#include <stdio.h>
#include <string.h>
__attribute__((noinline)) static void greet(const char *s)
{
	char b[16];
	strcpy(b, s);
	puts(b);
}
int main(int argc, char **argv)
{
	greet(argc > 1 ? argv[1] : "hello");
	return 0;
}
`

var hardeningStackLine = regexp.MustCompile(`(?m)^ Stack protected: (.*)$`)

// canaryVerdicts returns what hardening-check ("Stack protected") and
// checksec (the canary column of --output=csv) say about path.
func canaryVerdicts(t *testing.T, path string) (hardening, checksec string) {
	t.Helper()
	out, _ := exec.Command("hardening-check", path).Output() // exit 1 when it finds a problem
	m := hardeningStackLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("hardening-check %s: no \"Stack protected\" line in:\n%s", path, out)
	}
	cs, err := exec.Command("checksec", "--output=csv", "--file="+path).Output()
	if err != nil {
		t.Fatalf("checksec --file=%s: %v", path, err)
	}
	fields := strings.Split(string(cs), ",")
	if len(fields) < 2 {
		t.Fatalf("checksec --file=%s: unexpected output %q", path, cs)
	}
	return string(m[1]), fields[1]
}

// TestCheckersReadCanary pins what hardening-check and checksec, which
// users run in their pipelines, say about the canary of programs and
// libraries built by immunix-cc, stripped or not (docs/stackguard.md,
// "What the checkers see"), against the plain build of the same source:
// both read them as protected, as the plain build. Every file built by
// immunix-cc wraps __stack_chk_fail into the runtime's hidden copy and
// imports glibc's, exactly as its plain build imports it, and defines no
// __stack_chk_fail of its own (before, executables defined and exported
// it and hardening-check called them unprotected).
func TestCheckersReadCanary(t *testing.T) {
	testenv.NeedsTool(t, "hardening-check")
	testenv.NeedsTool(t, "checksec")
	testenv.NeedsTool(t, "strip")
	for _, cc := range []string{"gcc", "clang", "g++", "clang++"} {
		t.Run(cc, func(t *testing.T) {
			v := variant{cc: cc}
			dir := t.TempDir()
			plain := filepath.Join(dir, "plain")
			exe := filepath.Join(dir, "immunix")
			lib := filepath.Join(dir, "libimmunix.so")
			flags := []string{"-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"}
			compile(t, v, checkerSrc, plain, false, flags...)
			compile(t, v, checkerSrc, exe, true, flags...)
			compile(t, v, abiLibSrc, lib, true, append(flags, "-fPIC", "-shared")...)

			for _, f := range []string{exe, lib} {
				defined, undefined := dynSyms(t, f)
				if slices.Contains(defined, "__stack_chk_fail@") || !slices.Contains(undefined, "__stack_chk_fail") {
					t.Fatalf("%s: want __stack_chk_fail imported, not defined; defined %q, undefined %q", f, defined, undefined)
				}
			}

			cases := []struct {
				file, hardening, checksec string
			}{
				{plain, "yes", "Canary found"},
				{lib, "yes", "Canary found"},
				{exe, "yes", "Canary found"},
			}
			for _, c := range cases {
				stripped := c.file + ".stripped"
				if out, err := exec.Command("strip", "-o", stripped, c.file).CombinedOutput(); err != nil {
					t.Fatalf("strip %s: %v\n%s", c.file, err, out)
				}
				for _, f := range []string{c.file, stripped} {
					hc, cs := canaryVerdicts(t, f)
					t.Logf("%s: hardening-check %q, checksec %q", filepath.Base(f), hc, cs)
					if hc != c.hardening {
						t.Errorf("%s: hardening-check says Stack protected: %q, want %q", f, hc, c.hardening)
					}
					if cs != c.checksec {
						t.Errorf("%s: checksec says %q, want %q", f, cs, c.checksec)
					}
				}
			}
		})
	}
}

// ownAndGlibcSrc is the candidate design for giving hardening-check the
// import it looks for: the program defines (and exports) its own
// __stack_chk_fail, as the guard runtime does, and calls glibc's through a
// versioned reference, __stack_chk_fail@GLIBC_2.4 (the version glibc
// defines it under on x86-64 and i386). If the reference ever ran the
// program's own copy, the copy is entered twice and exits 42.
const ownAndGlibcSrc = `
#include <unistd.h>
extern void glibc_stack_chk_fail(void) __attribute__((noreturn));
__asm__(".symver glibc_stack_chk_fail, __stack_chk_fail@GLIBC_2.4");
static volatile int entered;
void __stack_chk_fail(void)
{
	if (entered++) {
		write(1, "own copy re-entered\n", 20);
		_exit(42);
	}
	glibc_stack_chk_fail();
}
int main(void)
{
	__stack_chk_fail();
}
`

// TestProgramCannotAlsoImportGlibcChkFail: an executable cannot both export
// its own __stack_chk_fail (so its libraries' canary failures reach the
// runtime) and import glibc's (what hardening-check counts). GNU ld and
// gold bind the versioned reference __stack_chk_fail@GLIBC_2.4 to the
// program's unversioned definition: the linked program imports nothing,
// and the call "to glibc" runs the program's own copy again. (Were a
// linker to keep the import, ld.so would do the same at run time: a
// reference from the program and one from a library ask for the same
// name and version, the program is searched first, and its unversioned
// definition matches any version; that is what sends the libraries'
// canary failures to the runtime.) This is the evidence behind the design
// in docs/stackguard.md; when it fails, a linker has changed and the
// design can be revisited.
func TestProgramCannotAlsoImportGlibcChkFail(t *testing.T) {
	linkers := []string{"bfd"}
	if _, err := exec.LookPath("ld.gold"); err == nil {
		linkers = append(linkers, "gold")
	}
	for _, cc := range testenv.Compilers() {
		for _, abi := range []string{"", "-m32"} {
			for _, ld := range linkers {
				t.Run(cc+abi+"-"+ld, func(t *testing.T) {
					testenv.NeedsTool(t, cc)
					if abi != "" {
						testenv.NeedsABIBuild(t, abi)
					}
					dir := t.TempDir()
					src := filepath.Join(dir, "own.c")
					list := filepath.Join(dir, "export.list")
					exe := filepath.Join(dir, "own")
					if err := os.WriteFile(src, []byte(ownAndGlibcSrc), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(list, []byte("{ __stack_chk_fail; };\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					args := []string{"-O2", "-fno-stack-protector", "-fuse-ld=" + ld}
					if abi != "" {
						args = append(args, abi)
					}
					args = append(args, src, "-Wl,--dynamic-list="+list, "-o", exe)
					if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
						t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
					}
					defined, undefined := dynSyms(t, exe)
					if slices.Contains(undefined, "__stack_chk_fail") {
						t.Fatalf("%s (ld.%s) kept __stack_chk_fail@GLIBC_2.4 as an import beside the program's own definition (defined %q): the linker changed; revisit docs/stackguard.md, \"What the checkers see\"", cc, ld, defined)
					}
					if !slices.Contains(defined, "__stack_chk_fail@") {
						t.Fatalf("%s: the program does not export its __stack_chk_fail: defined %q", exe, defined)
					}
					if abi != "" {
						return // built only: this kernel may not run it
					}
					out, err := exec.Command(exe).Output()
					ee, ok := err.(*exec.ExitError)
					if !ok || ee.ExitCode() != 42 || string(out) != "own copy re-entered\n" {
						t.Fatalf("%s: want the reference to glibc's __stack_chk_fail to run the program's own copy (exit 42); got %v, stdout %q", exe, err, out)
					}
				})
			}
		}
	}
}
