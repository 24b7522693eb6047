package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// loopSrc calls snprintf argv[1] times; the format is the literal
// "%d:%s|%x" unless argv[2] gives one, which makes it non-literal; with
// argv[3] the calls alternate between the two formats, and with a fourth
// argument the two are copied in turn into one buffer, the format of every
// call.
const loopSrc = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static volatile int sink;
int main(int argc, char **argv)
{
	char buf[64], one[64];
	long i, n = atol(argv[1]);
	const char *fmt = argc > 2 ? argv[2] : 0;
	if (argc > 4) {
		for (i = 0; i < n; i++) {
			strcpy(one, argv[2 + (i & 1)]);
			snprintf(buf, sizeof buf, one, (int)i, "abc", (unsigned)i);
			sink += buf[1];
		}
	} else if (argc > 3) {
		const char *f[2] = {argv[2], argv[3]};
		for (i = 0; i < n; i++) {
			snprintf(buf, sizeof buf, f[i & 1], (int)i, "abc", (unsigned)i);
			sink += buf[1];
		}
	} else if (fmt) {
		for (i = 0; i < n; i++) {
			snprintf(buf, sizeof buf, fmt, (int)i, "abc", (unsigned)i);
			sink += buf[1];
		}
	} else {
		for (i = 0; i < n; i++) {
			snprintf(buf, sizeof buf, "%d:%s|%x", (int)i, "abc", (unsigned)i);
			sink += buf[1];
		}
	}
	return 0;
}
`

// buildLoop compiles loopSrc with gcc -O2, with the FormatGuard headers or
// without; both link the guard runtime, so only the headers differ.
func buildLoop(b *testing.B, withFG bool) string {
	b.Helper()
	root := testenv.ModuleRoot(b)
	dir := b.TempDir()
	c := filepath.Join(dir, "loop.c")
	if err := os.WriteFile(c, []byte(loopSrc), 0o644); err != nil {
		b.Fatal(err)
	}
	exe := filepath.Join(dir, "loop")
	args := []string{"-O2", "-falign-functions=64", "-falign-loops=64"}
	if withFG {
		args = append(args, "-isystem", filepath.Join(root, "formatguard", "include"))
	}
	la, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{"gcc"}})
	if err != nil {
		b.Fatal(err)
	}
	args = append(append(args, c, "-o", exe), la...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		b.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	return exe
}

// cpu runs cmd and returns the CPU time (user+system, children included)
// it used: on a shared machine far steadier than wall time.
func cpu(b *testing.B, cmd *exec.Cmd) time.Duration {
	b.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func median(xs []time.Duration) time.Duration {
	s := append([]time.Duration{}, xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// compare runs base and cand alternately b.N times each and reports the
// medians and cand/base.
func compare(b *testing.B, unit string, base, cand func() *exec.Cmd) {
	var bs, cs []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bs = append(bs, cpu(b, base()))
			cs = append(cs, cpu(b, cand()))
		} else {
			cs = append(cs, cpu(b, cand()))
			bs = append(bs, cpu(b, base()))
		}
	}
	b.StopTimer()
	mb, mc := median(bs), median(cs)
	b.ReportMetric(float64(mb.Nanoseconds()), "base-"+unit)
	b.ReportMetric(float64(mc.Nanoseconds()), "formatguard-"+unit)
	b.ReportMetric(float64(mc)/float64(mb), "ratio")
}

const loops = "20000000"

// BenchmarkSnprintfLiteral: 2*10^7 snprintf calls with a literal format.
func BenchmarkSnprintfLiteral(b *testing.B) {
	base, cand := buildLoop(b, false), buildLoop(b, true)
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(base, loops) },
		func() *exec.Cmd { return exec.Command(cand, loops) })
}

// BenchmarkSnprintfNonLiteral: the same calls with the format from argv, so
// every call is checked.
func BenchmarkSnprintfNonLiteral(b *testing.B) {
	base, cand := buildLoop(b, false), buildLoop(b, true)
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(base, loops, "%d:%s|%x") },
		func() *exec.Cmd { return exec.Command(cand, loops, "%d:%s|%x") })
}

// longFormat is a log line's format: three conversions in 51 bytes, where
// comparing a remembered format costs more than for "%d:%s|%x".
const longFormat = "%d items in %s, flags %x; a longer log message tail"

// BenchmarkSnprintfNonLiteralLong: BenchmarkSnprintfNonLiteral with
// longFormat.
func BenchmarkSnprintfNonLiteralLong(b *testing.B) {
	base, cand := buildLoop(b, false), buildLoop(b, true)
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(base, loops, longFormat) },
		func() *exec.Cmd { return exec.Command(cand, loops, longFormat) })
}

// BenchmarkSnprintfAlternating: non-literal calls alternating between two
// formats, each remembered in its own record (formatguard.c, fg_memo)
// unless the two pointers hash to the same one.
func BenchmarkSnprintfAlternating(b *testing.B) {
	base, cand := buildLoop(b, false), buildLoop(b, true)
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(base, loops, "%d:%s|%x", "%d/%s/%x") },
		func() *exec.Cmd { return exec.Command(cand, loops, "%d:%s|%x", "%d/%s/%x") })
}

// BenchmarkSnprintfRewritten: non-literal calls whose format is one buffer
// rewritten with one of two formats before each call, so that no check
// finds its format remembered: the remembered formats' worst case.
func BenchmarkSnprintfRewritten(b *testing.B) {
	base, cand := buildLoop(b, false), buildLoop(b, true)
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(base, loops, "%d:%s|%x", "%d/%s/%x", "rewrite") },
		func() *exec.Cmd { return exec.Command(cand, loops, "%d:%s|%x", "%d/%s/%x", "rewrite") })
}

// gawkTrees returns two configured and built gawk source trees: through
// immunix-cc with everything but FormatGuard, and with everything.
func gawkTrees(b *testing.B) (base, fg string) {
	b.Helper()
	testenv.NeedsTool(b, "make")
	bin := testenv.Binaries(b)
	src := testenv.DebianSource(b, "gawk")
	for _, withFG := range []bool{false, true} {
		dir := src + "-base"
		if withFG {
			dir = src + "-fg"
		}
		if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
			b.Fatalf("copy: %v\n%s", err, out)
		}
		for _, s := range [][]string{
			{"./configure", "CC=" + filepath.Join(bin, "immunix-cc"), "CFLAGS=-O2", "--disable-nls", "--without-readline", "--without-mpfr"},
			// As debian/rules does: the Debian source ships no manual sources.
			{"touch", "--date=Jan 01 2000", "doc/gawktexi.in", "doc/sidebar.awk", "doc/gawk.texi", "doc/gawk.info", "doc/gawkinet.texi", "doc/gawkinet.info", "doc/gawkworkflow.texi", "doc/gawkworkflow.info", "doc/pm-gawk.texi", "doc/pm-gawk.info"},
			{"make", "-j2"},
		} {
			cmd := exec.Command(s[0], s[1:]...)
			cmd.Dir = dir
			cmd.Env = gawkEnv(withFG)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", s, err, out)
			}
		}
		if withFG {
			fg = dir
		} else {
			base = dir
		}
	}
	return base, fg
}

func gawkEnv(withFG bool) []string {
	env := append(os.Environ(), "IMMUNIX_CC=gcc")
	if !withFG {
		env = append(env, "IMMUNIX_DISABLE=formatguard")
	}
	return env
}

// printfScript is a printf-heavy awk program: every record formatted with
// printf and sprintf, numbers through %d, %x, %e, %g and %f.
const printfScript = `BEGIN {
	for (i = 0; i < 400000; i++) {
		s = sprintf("%08d|%-10s|%x", i, "item" i % 97, i * 7)
		printf "%s %.3f %e %g %5.1f%%\n", s, i / 7, i * 1.5, i / 3, (i % 1000) / 10
	}
}`

// BenchmarkGawkPrintf: gawk running printfScript, built with and without
// FormatGuard (both through immunix-cc; the base with
// IMMUNIX_DISABLE=formatguard).
func BenchmarkGawkPrintf(b *testing.B) {
	base, fg := gawkTrees(b)
	run := func(dir string) func() *exec.Cmd {
		return func() *exec.Cmd {
			cmd := exec.Command(filepath.Join(dir, "gawk"), printfScript)
			cmd.Env = []string{"LC_ALL=C"}
			return cmd
		}
	}
	compare(b, "cpu-ns/run", run(base), run(fg))
}

// BenchmarkGawkCompile: "make clean && make" of gawk through immunix-cc,
// with and without the FormatGuard headers, CPU time of the whole build.
func BenchmarkGawkCompile(b *testing.B) {
	base, fg := gawkTrees(b)
	build := func(dir string, withFG bool) func() *exec.Cmd {
		return func() *exec.Cmd {
			cmd := exec.Command("sh", "-c", "make clean >/dev/null && make -j2 >/dev/null")
			cmd.Dir = dir
			cmd.Env = gawkEnv(withFG)
			return cmd
		}
	}
	compare(b, "cpu-ns/build", build(base, false), build(fg, true))
}

// BenchmarkGawkPrintfSame runs the baseline gawk against itself: the noise
// floor of BenchmarkGawkPrintf on this machine.
func BenchmarkGawkPrintfSame(b *testing.B) {
	base, _ := gawkTrees(b)
	run := func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(base, "gawk"), printfScript)
		cmd.Env = []string{"LC_ALL=C"}
		return cmd
	}
	compare(b, "cpu-ns/run", run, run)
}

// helperSrc calls snprintf's va_list form through the program's own helper
// argv[1] times, with the format from argv[2] (issue 15 item 1).
const helperSrc = `#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
static volatile int sink;
static int fmt_into(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}
int main(int argc, char **argv)
{
	char buf[64];
	long i, n = atol(argv[1]);
	const char *fmt = argv[2];
	for (i = 0; i < n; i++) {
		fmt_into(buf, sizeof buf, fmt, (int)i, "abc", (unsigned)i);
		sink += buf[1];
	}
	return 0;
}
`

// BenchmarkSnprintfHelper: 2*10^7 non-literal calls of a vsnprintf helper,
// built by immunix-cc with FormatGuard (helper calls rewritten, each
// vsnprintf format checked) and with IMMUNIX_DISABLE=formatguard.
func BenchmarkSnprintfHelper(b *testing.B) {
	testenv.NeedsTool(b, "gcc")
	cc := filepath.Join(testenv.Binaries(b), "immunix-cc")
	dir := b.TempDir()
	c := filepath.Join(dir, "helper.c")
	if err := os.WriteFile(c, []byte(helperSrc), 0o644); err != nil {
		b.Fatal(err)
	}
	var exes []string
	for _, env := range []string{"IMMUNIX_DISABLE=formatguard", "IMMUNIX_DEBUG=1"} {
		exe := filepath.Join(dir, strings.TrimPrefix(strings.SplitN(env, "=", 2)[0], "IMMUNIX_"))
		cmd := exec.Command(cc, "-O2", "-falign-functions=64", "-falign-loops=64", c, "-o", exe)
		cmd.Env = append(os.Environ(), "IMMUNIX_CC=gcc", env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("immunix-cc: %v\n%s", err, out)
		}
		if env == "IMMUNIX_DEBUG=1" && !strings.Contains(string(out), "v*printf calls rewritten") {
			b.Fatalf("the helper was not rewritten:\n%s", out)
		}
		exes = append(exes, exe)
	}
	compare(b, "cpu-ns/run",
		func() *exec.Cmd { return exec.Command(exes[0], loops, "%d:%s|%x") },
		func() *exec.Cmd { return exec.Command(exes[1], loops, "%d:%s|%x") })
}
