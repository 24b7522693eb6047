package stackguard

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/guardlib"
)

// pctNSrc calls vsnprintf (fortified: __vsnprintf_chk with flag > 0) with
// a format taken from argv[2] and placed, by argv[1], on the stack
// (writable), in a string literal, or in a read-only anonymous mapping.
// With argv[3] "exhaust" it first uses up every file descriptor, as a
// process under `ulimit -n` with its files open would be.
const pctNSrc = `
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static char out[64];
static int vsnp(const char *fmt, ...) { va_list ap; va_start(ap, fmt); int r = vsnprintf(out, sizeof out, fmt, ap); va_end(ap); return r; }

int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	int x = 0, y = 5;
	char fmt[64];
	const char *f = fmt;
	if (!strcmp(argv[1], "literal")) {
		f = "abc%n";
	} else if (!strcmp(argv[1], "mapped")) {
		char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		strcpy(m, argv[2]);
		mprotect(m, 4096, PROT_READ);
		f = m;
	} else {
		strncpy(fmt, argv[2], sizeof fmt - 1);
	}
	if (argc > 3 && !strcmp(argv[3], "exhaust")) {
		struct rlimit rl = {64, 64};
		setrlimit(RLIMIT_NOFILE, &rl);
		while (dup(0) >= 0)
			;
	}
	int r = vsnp(f, &x, y);
	printf("r=%d x=%d\n", r, x);
	return 0;
}
`

// TestFortifyPercentNWithoutFiles (issue 14 item 5): glibc's rule, %n in a
// format in writable memory aborts, holds in the runtime's __*printf_chk
// even when the process cannot open a file. The runtime used to run glibc's
// check into /dev/null and skipped it when no descriptor was free: %n then
// wrote (x=3).
func TestFortifyPercentNWithoutFiles(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		t.Run(cc, func(t *testing.T) {
			v := variant{cc: cc}
			dir := t.TempDir()
			flags := []string{"-O2", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=2", "-w"}
			glibc := filepath.Join(dir, "glibc")
			compile(t, v, pctNSrc, glibc, false, flags...)
			la, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{cc}})
			if err != nil {
				t.Fatal(err)
			}
			ours := filepath.Join(dir, "ours")
			compile(t, v, pctNSrc, ours, false, append(append(flags, lateFlags), la...)...)

			// glibc's own rule, with and without free descriptors.
			for _, ex := range []string{"-", "exhaust"} {
				g := runPlain(t, glibc, "stack", "abc%n", ex)
				if g.signal != syscall.SIGABRT || !strings.Contains(g.stderr, "%n in writable segment detected") {
					t.Fatalf("glibc (%s): signal %v stdout %q stderr %q: want its %%n abort", ex, g.signal, g.stdout, g.stderr)
				}
			}
			// The attack: a writable format with %n, no descriptor free.
			for _, ex := range []string{"-", "exhaust"} {
				for _, f := range []string{"abc%n", "abc%1$n", "a%-*hhnb", "%%%n"} {
					r := run(t, ours, "stack", f, ex)
					if r.signal != syscall.SIGABRT || strings.Contains(r.stdout, "x=") ||
						!strings.Contains(r.stderr, "immunix alert: kind=fortify") || !strings.Contains(r.stderr, "check=__vsnprintf_chk msg=%n in writable format") {
						t.Errorf("runtime, format %q on the stack (%s): signal %v stdout %q stderr %q: want a kind=fortify alert and no write", f, ex, r.signal, r.stdout, r.stderr)
					}
				}
			}
			// Not %n conversions: no abort.
			for _, f := range []string{"abc%%n", "%%n%%", "n%%%%n"} {
				r := run(t, ours, "stack", f, "exhaust")
				g := runPlain(t, glibc, "stack", f, "exhaust")
				if r.signal != 0 || g.signal != 0 || r.stdout != g.stdout {
					t.Errorf("format %q: runtime %q (signal %v), glibc %q (signal %v)", f, r.stdout, r.signal, g.stdout, g.signal)
				}
			}
			// %n in read-only memory is allowed: a literal, and a read-only
			// mapping that belongs to no ELF object (decided by the kernel
			// refusing the write, not by reading /proc/self/maps).
			for _, where := range []string{"literal", "mapped"} {
				for _, ex := range []string{"-", "exhaust"} {
					r := run(t, ours, where, "abc%n", ex)
					if r.signal != 0 || r.stdout != "r=3 x=3\n" {
						t.Errorf("runtime, %%n in a %s format (%s): signal %v stdout %q stderr %q: want r=3 x=3", where, ex, r.signal, r.stdout, r.stderr)
					}
				}
				g := runPlain(t, glibc, where, "abc%n", "-")
				if g.signal != 0 || g.stdout != "r=3 x=3\n" {
					t.Errorf("glibc, %%n in a %s format: signal %v stdout %q", where, g.signal, g.stdout)
				}
			}
			// glibc's %N$ rule still applies without a free descriptor.
			r := run(t, ours, "stack", "%1$d %3$d", "exhaust")
			if r.signal != syscall.SIGABRT || !strings.Contains(r.stderr, "invalid %N$ use detected") {
				t.Errorf("runtime, inconsistent %%N$ (exhaust): signal %v stdout %q stderr %q", r.signal, r.stdout, r.stderr)
			}
		})
	}
}
