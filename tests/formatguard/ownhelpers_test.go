package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// helperShapes are the program's own printf helpers (issue 15 item 1): the
// definitions go before main in the attack program, call is what main does
// with the format read from argv, stdin, a file or the environment, and
// vf is the v*printf function the alert names.
var helperShapes = []struct {
	name, defs, call, vf string
}{
	{"static-vfprintf", `static void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}
`, `log_msg(f, 42);`, "vfprintf"},
	// Two levels: the variadic helper hands its va_list to a forwarder.
	{"two-levels-vfprintf", `static void vlog_msg(int level, const char *fmt, va_list ap)
{
	fprintf(stdout, "<%d>", level);
	vfprintf(stdout, fmt, ap);
}
static void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_msg(level, fmt, ap);
	va_end(ap);
}
`, `log_msg(3, f, 42);`, "vfprintf"},
	{"static-vsnprintf", `static int slog(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	return r;
}
`, `slog(b, sizeof b, f, 42); puts(b);`, "vsnprintf"},
	// Declared with the format attribute, defined after its use.
	{"attribute-vprintf", `int say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int quiet;
static void talk(void) { if (!quiet) fflush(stdout); }
`, `say(f, 42); talk();`, "vprintf"},
	{"static-vdprintf", `static void dlog(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdprintf(fd, fmt, ap);
	va_end(ap);
}
`, `dlog(1, f, 42);`, "vdprintf"},
	{"static-vasprintf", `static char *mk(const char *fmt, ...)
{
	va_list ap;
	char *s = 0;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = 0;
	va_end(ap);
	return s;
}
`, `p = mk(f, 42); if (p) puts(p);`, "vasprintf"},
	{"static-vwarnx", `static void complain(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}
`, `complain(f, 42);`, "vwarnx"},
	{"static-vsyslog", `static void slogit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsyslog(LOG_INFO, fmt, ap);
	va_end(ap);
}
`, `openlog("fgtest", LOG_PERROR, LOG_USER); slogit(f, 42);`, "vsyslog"},
	// gawk's fatal(): a macro whose expansion calls the helper through a
	// parenthesised comma expression, after an if.
	{"macro-comma-vfprintf", `static const char *srcfile;
static int srcline;
static void set_loc(const char *file, int line) { srcfile = file; srcline = line; }
static void r_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}
#define fatal (*(set_loc(__FILE__, __LINE__), r_fatal))
`, `if (srcline == 0) fatal(f, 42);`, "vfprintf"},
	{"static-vfwprintf", `static void wlog(const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfwprintf(stdout, fmt, ap);
	va_end(ap);
}
`, `wlog(w, 42);`, "vfwprintf"},
}

// sayDef is the definition of the attribute-declared helper "say", in the
// same unit after main (attribute-vprintf).
const sayDef = `
int say(const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}
`

// TestOwnHelpers: for each helper shape, with gcc and clang, the program
// built without immunix leaks (the attack works), the one built by
// immunix-cc stops every attack with the alert on the syslog socket before
// any output, and benign formats print exactly what the plain build prints.
func TestOwnHelpers(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		for _, h := range helperShapes {
			cc, h := cc, h
			t.Run(cc+"/"+h.name, func(t *testing.T) {
				t.Parallel()
				src := strings.Replace(program, "int main(int argc", "#include <stdarg.h>\n"+h.defs+"\nint main(int argc", 1)
				src = strings.Replace(src, "CALL", h.call, 1)
				if h.vf == "vprintf" {
					src += sayDef
				}
				dir := t.TempDir()
				pdir, udir := filepath.Join(dir, "protected"), filepath.Join(dir, "plain")
				for _, d := range []string{pdir, udir} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				prot, out, err := build(t, cc, true, pdir, "fgtest", src, []string{"IMMUNIX_DEBUG=1"}, "-O2", "-Wno-format-security")
				if err != nil {
					t.Fatalf("immunix-cc: %v\n%s", err, out)
				}
				if !strings.Contains(out, "v*printf calls rewritten") {
					t.Fatalf("immunix-cc did not rewrite the helper calls:\n%s", out)
				}
				plain, out, err := build(t, cc, false, udir, "fgtest", src, nil, "-O2", "-Wno-format-security")
				if err != nil {
					t.Fatalf("%s: %v\n%s", cc, err, out)
				}
				leaks(t, plain, h.vf, dir)
				testBenign(t, h.vf, prot, plain, dir)
				testAttacks(t, h.vf, prot, dir)
			})
		}
	}
}

// leaks proves the attack on the plain build: a %x leak prints stack words
// and the program is not stopped.
func leaks(t *testing.T, plain, vf, dir string) {
	t.Helper()
	args, stdin, env := sources[0].feed(t, dir, attacks[0].format)
	r := run(t, plain, "fgtest", stdin, env, args...)
	out := r.stdout + r.stderr
	if r.signal != 0 || !strings.Contains(out, ".") || strings.Contains(out, "%x") {
		t.Fatalf("%s: the plain build does not leak with %q: %+v", vf, attacks[0].format, r)
	}
}

// TestOwnHelperOtherUnit: a helper declared with the format attribute in a
// header and defined in another unit; both units built by immunix-cc (one
// with -c, linked apart), with gcc and clang, at IMMUNIX_LEVEL=max: the
// calling unit's own text names no va_list and no format attribute, so the
// default level does not preprocess it a second time to find the header's
// helper (helpers.MayDefineHelper; docs/formatguard.md).
func TestOwnHelperOtherUnit(t *testing.T) {
	const header = `void ext_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
`
	const lib = `#include <stdarg.h>
#include <stdio.h>
#include "log.h"
void ext_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}
`
	const main = `#include <stdio.h>
#include <stdlib.h>
#include "log.h"
int main(int argc, char **argv)
{
	const char *f = argc > 1 ? argv[1] : getenv("FMT");
	ext_log(f, 42);
	ext_log("literal %d\n", 7);
	return 0;
}
`
	for _, cc := range []string{"gcc", "clang"} {
		cc := cc
		t.Run(cc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, text := range map[string]string{"log.h": header, "lib.c": lib, "main.c": main} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var exes []string
			for _, protected := range []bool{true, false} {
				w, exe := cc, filepath.Join(dir, "plain")
				env := os.Environ()
				if protected {
					w, exe = immunixCC(t, false), filepath.Join(dir, "fgtest")
					env = append(env, "IMMUNIX_CC="+cc, "IMMUNIX_LEVEL=max")
				}
				for _, step := range [][]string{
					{"-O2", "-c", "lib.c", "-o", "lib.o"},
					{"-O2", "-c", "main.c", "-o", "main.o"},
					{"main.o", "lib.o", "-o", exe},
				} {
					cmd := exec.Command(w, step...)
					cmd.Dir, cmd.Env = dir, env
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s %v: %v\n%s", w, step, err, out)
					}
				}
				exes = append(exes, exe)
			}
			for _, f := range []string{"v=%d\n", "plain\n"} {
				got, want := run(t, exes[0], "fgtest", "", nil, f), run(t, exes[1], "fgtest", "", nil, f)
				if got.stdout != want.stdout || got.code != 0 || got.signal != 0 {
					t.Errorf("benign %q: protected %+v, plain %+v", f, got, want)
				}
			}
			if r := run(t, exes[1], "fgtest", "", nil, "%x.%x.%x.%x"); r.signal != 0 {
				t.Fatalf("the plain build does not leak: %+v", r)
			}
			// "%s" reads one argument, as passed, but as a pointer where
			// the call passes an integer: the classes reach the check too.
			for _, a := range []string{"%x.%x.%x.%x", "%s%s%s", "AAAA%n", "%s"} {
				for _, env := range [][]string{nil, {"FMT=" + a}} {
					args := []string{a}
					if env != nil {
						args = nil
					}
					r := run(t, exes[0], "fgtest", "", env, args...)
					if r.signal != syscall.SIGABRT || r.stdout != "" || len(r.logs) != 1 || !strings.Contains(r.logs[0], "call=vfprintf") {
						t.Errorf("attack %q (env %v) not stopped: %+v", a, env, r)
					}
				}
			}
		})
	}
}

// cxxHelperShapes are C++-only helper shapes: a variadic template that
// forwards its pack to the helper (the count is the pack's real size), and
// an overload of the helper whose argument is not a format (the rewritten
// call of it must still compile).
var cxxHelperShapes = []struct {
	name, defs, call, vf string
}{
	{"pack-vfprintf", `static void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}
template <class... A> static void log_line(const char *fmt, A... a) { log_msg(fmt, a...); }
`, `log_line(f, 42);`, "vfprintf"},
	{"overload-vfprintf", `static void log_msg(int level) { if (level > 9) puts("high"); }
static void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}
`, `log_msg(f, 42); log_msg(argc);`, "vfprintf"},
}

// TestOwnHelpersCXX is TestOwnHelpers for C++ units (g++ and clang++,
// C++17), with the C++-only shapes; IMMUNIX_STRICT=1, so a rewritten unit
// that did not compile fails the build.
func TestOwnHelpersCXX(t *testing.T) {
	shapes := append(append([]struct{ name, defs, call, vf string }{}, helperShapes...), cxxHelperShapes...)
	for _, cxx := range testenv.CXXCompilers() {
		for _, h := range shapes {
			cxx, h := cxx, h
			t.Run(cxx+"/"+h.name, func(t *testing.T) {
				t.Parallel()
				src := strings.Replace(program, "int main(int argc", "#include <stdarg.h>\n"+h.defs+"\nint main(int argc", 1)
				src = strings.Replace(src, "CALL", h.call, 1)
				if h.vf == "vprintf" {
					src += sayDef
				}
				dir := t.TempDir()
				pdir, udir := filepath.Join(dir, "protected"), filepath.Join(dir, "plain")
				for _, d := range []string{pdir, udir} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				flags := []string{"-O2", "-std=c++17", "-Wno-format-security"}
				prot, out, err := buildLang(t, cxx, true, pdir, "fgtest", ".cc", src, []string{"IMMUNIX_DEBUG=1"}, flags...)
				if err != nil {
					t.Fatalf("immunix-c++: %v\n%s", err, out)
				}
				if !strings.Contains(out, "v*printf calls rewritten") {
					t.Fatalf("immunix-c++ did not rewrite the helper calls:\n%s", out)
				}
				plain, out, err := buildLang(t, cxx, false, udir, "fgtest", ".cc", src, nil, flags...)
				if err != nil {
					t.Fatalf("%s: %v\n%s", cxx, err, out)
				}
				leaks(t, plain, h.vf, dir)
				testBenign(t, h.vf, prot, plain, dir)
				testAttacks(t, h.vf, prot, dir)
			})
		}
	}
}
