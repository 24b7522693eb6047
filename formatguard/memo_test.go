package formatguard_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// memoProg checks a sequence of (count, format) pairs through the exported
// checker __immunix_fg_snprintf, in one process, so that each check sees
// the records the previous ones left. argv: count format count format ...;
// a format is checked where it is in argv, and "=FMT" is FMT written into
// one buffer that every "=" format shares (the attack on a record that
// holds only the pointer). It prints "ok N" after the N-th check passes.
const memoProg = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
const char *__immunix_fg_snprintf(unsigned, const char *);
static char buf[256];
int main(int argc, char **argv)
{
	int i;
	for (i = 1; i + 1 < argc; i += 2) {
		unsigned n = (unsigned)strtoul(argv[i], 0, 0);
		const char *f = argv[i + 1];
		if (f[0] == '=')
			f = strcpy(buf, f + 1);
		if (__immunix_fg_snprintf(n, f) != f)
			return 4;
		printf("ok %d\n", (i + 1) / 2);
		fflush(stdout);
	}
	return 0;
}
`

// cls is a checker n with classes: count | classes << 7, 3 bits each.
func cls(count int, classes ...int) string {
	n := count
	for i, c := range classes {
		n |= c << (7 + 3*i)
	}
	return fmt.Sprintf("%#x", n)
}

// buildWithRuntime compiles src with cc and the flags (warnings are
// errors), linked with the real runtime archive.
func buildWithRuntime(t *testing.T, cc, src string, flags ...string) string {
	t.Helper()
	return buildWithRuntimeABI(t, cc, nil, src, flags...)
}

// buildWithRuntimeABI is buildWithRuntime for the ABI flags abi (e.g. -m32),
// with the runtime built for them.
func buildWithRuntimeABI(t *testing.T, cc string, abi []string, src string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "memo.c")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	link, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{cc}, ABIFlags: abi})
	if err != nil {
		t.Fatalf("runtime for %s: %v", cc, err)
	}
	exe := filepath.Join(dir, "memo")
	args := append(append(append(append([]string{"-O2", "-Wall", "-Wextra", "-Werror"}, abi...), flags...), "-o", exe, p), link...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return exe
}

// runMemo runs exe and returns its output and whether it halted (SIGABRT).
func runMemo(t *testing.T, exe string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{"IMMUNIX_SYSLOG_SOCKET=/nonexistent"}
	out, _ := cmd.Output()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return string(out), ws.Signaled() && ws.Signal() == syscall.SIGABRT
}

// TestRememberedFormat: the checkers remember the last format that passed
// on the thread (formatguard.c, fg_memo). Only the same bytes with the same
// count and classes may skip the parse: a rewritten buffer, a longer
// format with the same first 64 bytes, the same format with fewer
// arguments or other classes are all parsed and stopped.
func TestRememberedFormat(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs C programs: skipped with -short")
	}
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	long := strings.Repeat("a", 62)
	cases := []struct {
		name string
		args []string
		oks  int // checks that pass before the halt, or all of them
		halt bool
	}{
		{"same format again", []string{"2", "%d:%d", "2", "%d:%d", "2", "=%d:%d", "2", "=%d:%d"}, 4, false},
		{"formats alternate", []string{"2", "%d:%d", "2", "%d-%d", "2", "%d:%d", "2", "%d-%d", "1", "%d-%d"}, 4, true},
		{"buffer rewritten", []string{"2", "=%d:%d", "2", "=%d:%d", "2", "=%x%x%x"}, 2, true},
		{"same prefix longer", []string{"1", "=%d", "1", "=%d%n"}, 1, true},
		{"fewer arguments", []string{"2", "=%d:%d", "1", "=%d:%d"}, 1, true},
		{"other classes", []string{cls(2, 1, 1), "=%d %d", cls(2, 1, 1), "=%d %d", cls(2, 3, 1), "=%d %d"}, 2, true},
		{"long double read of ints", []string{cls(2, 1, 1), "=%d %d", cls(2, 1, 1), "=%La %La"}, 1, true},
		// A format of 64 bytes is kept; a longer one is not, so the two
		// "too long" formats, equal in their first 66 bytes, are both
		// parsed.
		{"longest kept", []string{"1", "=" + long + "%d", "1", "=" + long + "%d"}, 2, false},
		{"too long to keep", []string{"1", "=" + long + "%dxx", "1", "=" + long + "%dxx%x"}, 1, true},
		{"too long then empty", []string{"1", "=" + long + "%dxx", "0", "="}, 2, false},
	}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		exe := buildWithRuntime(t, cc, memoProg)
		for _, c := range cases {
			out, halted := runMemo(t, exe, c.args...)
			oks := strings.Count(out, "ok ")
			if halted != c.halt || oks != c.oks {
				t.Errorf("%s %s %q: halted=%v after %d passing checks, want halted=%v after %d", cc, c.name, c.args, halted, oks, c.halt, c.oks)
			}
		}
	}
}

// windowProg includes the runtime's checker source with FG_MEMO_WINDOW
// defined: at one chosen step of one check it runs the check a signal
// handler would run there (interrupt step, byte index, the handler's
// format, count 1), then finishes the interrupted check. Main first leaves
// "seed" in a record, then checks "attack" from the same buffer, with count
// 1; the handler's format is in another buffer that falls in the same
// record.
const windowProg = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int armed, at_step, at_index;
static const char *handler_fmt;
static char pool[16][80] __attribute__((aligned(16)));
static const char *fg_check(const char *, unsigned int, const char *, const void *);
static void window(int step, size_t i)
{
	if (armed && step == at_step && (int)i == at_index) {
		armed = 0;
		fg_check("snprintf", 1, handler_fmt, 0);
	}
}
#define FG_MEMO_WINDOW(step, i) window(step, i)
#include "formatguard.c"
int main(int argc, char **argv)
{
	char *a = pool[0], *b = 0;
	int i;
	if (argc != 6)
		return 2;
	for (i = 1; i < 16 && b == 0; i++)
		if (fg_memo_slot(pool[i]) == fg_memo_slot(a))
			b = pool[i];
	if (b == 0)
		return 3;
	fg_check("snprintf", 1, strcpy(a, argv[1]), 0);
	at_step = argv[2][0];
	at_index = atoi(argv[3]);
	handler_fmt = strcpy(b, argv[4]);
	armed = 1;
	fg_check("snprintf", 1, strcpy(a, argv[5]), 0);
	puts(armed ? "window not reached" : "passed");
	return 0;
}
`

// runtimeSourceTest prepares a test that compiles programs including the
// runtime's checker source: skipped with -short, a fresh runtime cache, and
// the include flags of the runtime's directories.
func runtimeSourceTest(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles and runs C programs: skipped with -short")
	}
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	root := testenv.ModuleRoot(t)
	return []string{"-I", filepath.Join(root, "formatguard", "runtime"), "-I", filepath.Join(root, "guardlib", "runtime")}
}

// TestRememberedFormatSignalWindows stops the checker at a chosen step, as
// a signal handler that prints would, and runs the handler's own check
// there. Without the seq guard both attacks pass a format that reads two
// arguments where the call passed one: a check interrupted in its compare
// by a handler that rewrites the record hits on a mix of the two records;
// a handler that interrupts a record being written hits on the half-written
// one. With the guard both are parsed and stopped.
func TestRememberedFormatSignalWindows(t *testing.T) {
	inc := runtimeSourceTest(t)
	cases := []struct {
		name string
		args []string // seed step index handler-format attack
	}{
		// "%xAAAAAAzz" is kept; comparing "%xAAAAAA%x" (from an
		// 8-aligned buffer: a word at a time), after its first word the
		// handler's "BBBBBBBB%x" replaces it: "%xAAAAAA" then "%x\0"
		// both match.
		{"handler rewrites the record mid-compare", []string{"%xAAAAAAzz", "c", "8", "BBBBBBBB%x", "%xAAAAAA%x"}},
		// "ab%x" is kept; while "%xcd" is written over it, after two
		// bytes, the record reads "%x%x", which the handler checks.
		{"handler reads a half-written record", []string{"ab%x", "w", "2", "%x%x", "%xcd"}},
	}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		guarded := buildWithRuntime(t, cc, windowProg, inc...)
		unguarded := buildWithRuntime(t, cc, windowProg, append(inc, "-DFG_MEMO_TEST_UNGUARDED")...)
		for _, c := range cases {
			out, halted := runMemo(t, unguarded, c.args...)
			if halted || out != "passed\n" {
				t.Errorf("%s %s: without the guard the attack should pass: halted=%v out=%q", cc, c.name, halted, out)
			}
			out, halted = runMemo(t, guarded, c.args...)
			if !halted {
				t.Errorf("%s %s: with the guard: not stopped, out=%q", cc, c.name, out)
			}
		}
	}
}

// compareProg runs the checker's record compare (fg_memo_same) on formats
// at every alignment, of every length up to FG_MEMO and past it, against
// records equal to them, differing at each byte, and one byte shorter or
// longer, with garbage after the record's NUL; it prints each disagreement
// with strcmp. Then it compares formats that end on the last byte of a page
// followed by an inaccessible one: the word reads must not fault.
const compareProg = `#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "formatguard.c"
static int bad;
static void one(const char *rec, const char *fmt)
{
	int want = strcmp(rec, fmt) == 0, got = fg_memo_same(rec, fmt);
	if (got != want) {
		printf("rec %s fmt %s at %lu: got %d\n", rec, fmt, (unsigned long)fmt & 15, got);
		bad = 1;
	}
}
int main(void)
{
	static char fbuf[FG_MEMO + 40] __attribute__((aligned(16)));
	static struct fg_memo m;
	size_t len, off, k;
	long page = sysconf(_SC_PAGESIZE);
	char *map;

	for (len = 0; len <= FG_MEMO; len++) {
		for (off = 0; off < 16; off++) {
			char *f = fbuf + off;
			memset(fbuf, 0x5a, sizeof fbuf);
			for (k = 0; k < len; k++)
				f[k] = (char)('!' + (k * 7 + off) % 90);
			f[len] = 0;
			memset(m.fmt, 0x7f, sizeof m.fmt);
			memcpy(m.fmt, f, len + 1);
			one(m.fmt, f);
			for (k = 0; k <= len; k++) {
				char c = m.fmt[k];
				m.fmt[k] = (char)(c == 0 ? 'x' : c ^ 1);
				one(m.fmt, f);
				m.fmt[k] = c;
			}
			if (len > 0) {
				m.fmt[len - 1] = 0;
				one(m.fmt, f);
				m.fmt[len - 1] = f[len - 1];
			}
			if (len < FG_MEMO) {
				m.fmt[len] = 'q';
				m.fmt[len + 1] = 0;
				one(m.fmt, f);
			}
		}
	}
	map = mmap(0, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) != 0)
		return 3;
	for (len = 0; len < 20; len++) {
		char *f = map + page - 1 - len;
		memset(f, 'y', len);
		f[len] = 0;
		memset(m.fmt, 0x7f, sizeof m.fmt);
		memcpy(m.fmt, f, len + 1);
		one(m.fmt, f);
		m.fmt[len] = 'y';
		m.fmt[len + 1] = 0;
		one(m.fmt, f);
	}
	puts(bad ? "bad" : "same");
	return bad;
}
`

// TestRememberedFormatCompare: the record compare reads the format a word
// at a time once it is aligned; it agrees with strcmp at every alignment
// and length, and reads nothing past a format that ends at a page's end.
func TestRememberedFormatCompare(t *testing.T) {
	inc := runtimeSourceTest(t)
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		for _, abi := range [][]string{nil, {"-m32"}} {
			t.Run(cc+strings.Join(abi, ""), func(t *testing.T) {
				if len(abi) > 0 {
					testenv.NeedsABIRun(t, abi[0])
				}
				exe := buildWithRuntimeABI(t, cc, abi, compareProg, inc...)
				out, err := exec.Command(exe).CombinedOutput()
				if err != nil || string(out) != "same\n" {
					t.Errorf("%v\n%s", err, out)
				}
			})
		}
	}
}
