package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// typesProgram passes arguments of every class to printf with a format
// from argv (issue 15, item 2). "int" passes the address of a local
// secret as an integer (a handle, as programs do) and an int; "ld" two
// ints; "ptr" a pointer; "ok" one of each class.
const typesProgram = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char secret[16];
	long handle = (long)(uintptr_t)secret;
	void *p = secret;
	if (argc != 3)
		return 2;
	strcpy(secret, "hunter2!");
	if (strcmp(argv[1], "int") == 0)
		printf(argv[2], handle, 2);
	else if (strcmp(argv[1], "ld") == 0)
		printf(argv[2], 1, 2);
	else if (strcmp(argv[1], "ptr") == 0)
		printf(argv[2], p);
	else if (strcmp(argv[1], "ok") == 0)
		printf(argv[2], 1, 2.5, 3.5L, p, "str", 'c', (float)4.5, (short)6);
	printf("|\n");
	return 0;
}
`

// validTyped are formats whose conversions read what the "ok" call passes.
var validTyped = []string{
	"%d %f %Lf %.0s%s %c %g %hd", "%8$d %7$g %6$c %5$s %4$.0s %3$La %2$a %1$x",
	"%i %e %Lg %.0s%.1s %d %G %hhd", "%-5d|%8.3f|%10Le|%.0s%5.2s", "%c%%", "plain", "%1$d %1$x %1$c",
}

// pointerFormats print pointers (as %p, or as integers): allowed, but the
// output differs from run to run (ASLR).
var pointerFormats = [][2]string{
	{"ok", "%d %f %Lf %p"}, {"ptr", "%p"}, {"ptr", "%lx"}, {"int", "%lx %d"}, {"int", "%p"},
}

// allowed runs the protected build and wants it to run to its end.
func allowed(t *testing.T, prot string, args ...string) {
	t.Helper()
	r := run(t, prot, "fgtest", "", nil, args...)
	if r.signal != 0 || r.code != 0 || len(r.logs) != 0 || !strings.HasSuffix(r.stdout, "|\n") {
		t.Errorf("%q: stopped or failed: %+v", args, r)
	}
}

func TestTypesChecked(t *testing.T) {
	type build struct{ cc, ext string }
	var builds []build
	for _, cc := range testenv.Compilers() {
		builds = append(builds, build{cc, ".c"})
	}
	for _, cxx := range testenv.CXXCompilers() {
		builds = append(builds, build{cxx, ".cc"})
	}
	for _, b := range builds {
		t.Run(b.cc, func(t *testing.T) {
			src := typesProgram
			flags := []string{"-O2", "-Wno-format-security"}
			if b.ext == ".cc" {
				flags = append(flags, "-std=c++17")
			}
			prot, plain := pair(t, b.cc, "fgtest", b.ext, src, flags...)
			// Without FormatGuard 2 the attacks work: %s over an integer
			// reads the memory it points at (the secret), %La over two ints
			// reads 32 bytes of stack as long doubles.
			if r := run(t, plain, "fgtest", "", nil, "int", "%s"); !strings.Contains(r.stdout, "hunter2!") {
				t.Fatalf("plain program: %%s over an integer did not leak the secret: %+v", r)
			}
			if r := run(t, plain, "fgtest", "", nil, "ld", "%La %La"); r.code != 0 || len(strings.Fields(r.stdout)) < 2 {
				t.Fatalf("plain program: %%La %%La over two ints did not print: %+v", r)
			}
			stopped(t, prot, "2", "1", "int", "%s")
			stopped(t, prot, "2", "2", "ld", "%La %La")
			stopped(t, prot, "1", "1", "ptr", "%f")
			stopped(t, prot, "2", "2", "int", "%d %s")
			stopped(t, prot, "8", "2", "ok", "%d %Lf")
			stopped(t, prot, "8", "3", "ok", "%3$f")
			for _, f := range validTyped {
				sameAsPlain(t, prot, plain, "ok", f)
			}
			sameAsPlain(t, prot, plain, "ld", "%*d")
			stopped(t, prot, "8", "2", "ok", "%*d")
			for _, a := range pointerFormats {
				allowed(t, prot, a[0], a[1])
			}
		})
	}
}

// compoundLiteral passes a compound literal with a top-level comma: the
// preprocessor splits it, so its class cannot be computed (a documented
// limit of FormatGuard 2 in C).
const compoundLiteral = `#include <stdio.h>
struct pt { int x, y; };
int main(int argc, char **argv)
{
	return printf(argc > 1 ? argv[1] : "%d\n", (struct pt){1, 2}.x) < 0;
}
`

// TestCompoundLiteralArgument: such a unit does not compile with the
// headers' classes; immunix-cc compiles it again with counts only
// (-DIMMUNIX_FG_NO_TYPES) and says so (fg=counts), the counts checked.
func TestCompoundLiteralArgument(t *testing.T) {
	inc := includeDir(t)
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			testenv.NeedsTool(t, cc)
			dir := t.TempDir()
			src := filepath.Join(dir, "cl.c")
			if err := os.WriteFile(src, []byte(compoundLiteral), 0o644); err != nil {
				t.Fatal(err)
			}
			if exec.Command(cc, "-isystem", inc, "-std=gnu11", "-c", "-o", os.DevNull, src).Run() == nil {
				t.Errorf("%s: a compound literal argument compiled with the classes on; docs/formatguard.md says it does not (update the docs)", cc)
			}
			if out, err := exec.Command(cc, "-isystem", inc, "-std=gnu11", "-DIMMUNIX_FG_NO_TYPES", "-Wall", "-Wextra", "-Werror", "-Wno-format-security", "-c", "-o", os.DevNull, src).CombinedOutput(); err != nil {
				t.Errorf("%s -DIMMUNIX_FG_NO_TYPES: %v\n%s", cc, err, out)
			}
			logf := filepath.Join(dir, "log")
			cmd := exec.Command(immunixCC(t, false), "-O2", "-o", filepath.Join(dir, "cl"), src)
			cmd.Env = append(os.Environ(), "IMMUNIX_CC="+cc, "IMMUNIX_LOG="+logf)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("immunix-cc did not fall back: %v\n%s", err, out)
			}
			if log, _ := os.ReadFile(logf); !strings.Contains(string(log), "fg=counts") {
				t.Errorf("immunix-cc: log does not say fg=counts:\n%s", log)
			}
			// With the classes off the count is still checked (the split
			// literal counts as 2: an over-count, never an under-count),
			// without the user asking for it.
			prot, out, err := buildLang(t, cc, true, dir, "fgtest", ".c", compoundLiteral, nil, "-O2", "-Wno-format-security")
			if err != nil {
				t.Fatalf("immunix-cc: %v\n%s", err, out)
			}
			stopped(t, prot, "2", "3", "%x%x%x")
		})
	}
}
