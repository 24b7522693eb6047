package stackguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// forkSrc times N rounds of fork()+_exit()+waitpid() from 24 frames deep
// (each frame with a canary, as in a server's request path), and prints the
// mean nanoseconds per round.
const forkSrc = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static volatile int sink;
__attribute__((noinline)) static long loop(int n)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		int st;
		waitpid(p, &st, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec)) / n;
}
__attribute__((noinline)) static long deep(int d, int n)
{
	char buf[64];
	memset(buf, d, sizeof buf);
	sink = buf[d % 64];
	long r = d ? deep(d - 1, n) : loop(n);
	sink += buf[3];
	return r;
}
int main(int argc, char **argv)
{
	(void)argc;
	printf("%ld\n", deep(24, atoi(argv[1])));
	return 0;
}
`

// callSrc is call-heavy: a recursive function with a local array (so it
// carries a canary under -fstack-protector-strong) called ~10^8 times.
const callSrc = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
__attribute__((noinline)) static unsigned long f(unsigned n, unsigned char *acc)
{
	unsigned char buf[16];
	buf[n & 15] = (unsigned char)n;
	__asm__ volatile("" : : "r"(buf) : "memory");
	if (n < 2)
		return (unsigned long)buf[n & 15] + acc[0];
	return f(n - 1, buf) + f(n - 2, buf);
}
int main(int argc, char **argv)
{
	(void)argc;
	unsigned char z[16] = {0};
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned long r = f((unsigned)atoi(argv[1]), z);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "%lu\n", r);
	printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
	return 0;
}
`

func build(b *testing.B, src, name string, withRuntime bool, extra ...string) string {
	b.Helper()
	dir := b.TempDir()
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	exe := filepath.Join(dir, name)
	args := append([]string{"-O2", "-fstack-protector-strong"}, extra...)
	args = append(args, c, "-o", exe)
	if withRuntime {
		la, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{"gcc"}})
		if err != nil {
			b.Fatal(err)
		}
		args = append(args, la...)
	}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		b.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	return exe
}

// runNs runs exe once and returns the CPU time (user+system, children
// included) it used, in nanoseconds: on a shared, loaded machine CPU time is
// far steadier than wall time. The program's own wall-clock figure is only
// checked for sanity.
func runNs(b *testing.B, exe, arg string, env ...string) float64 {
	b.Helper()
	cmd := exec.Command(exe, arg)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v", exe, err)
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil {
		b.Fatalf("%s printed %q", exe, out)
	}
	ps := cmd.ProcessState
	return float64((ps.UserTime() + ps.SystemTime()).Nanoseconds())
}

func median(xs []float64) float64 {
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// compare runs base and cand alternately b.N times each and reports both
// medians and cand/base.
func compare(b *testing.B, base, cand, arg, unit string) {
	var bs, cs []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bs = append(bs, runNs(b, base, arg))
			cs = append(cs, runNs(b, cand, arg))
		} else {
			cs = append(cs, runNs(b, cand, arg))
			bs = append(bs, runNs(b, base, arg))
		}
	}
	b.StopTimer()
	mb, mc := median(bs), median(cs)
	b.ReportMetric(mb, "base-"+unit)
	b.ReportMetric(mc, "runtime-"+unit)
	b.ReportMetric(mc/mb, "ratio")
}

// BenchmarkForkExitWait: fork()+_exit()+waitpid() with the runtime (the
// child's canary renewed, its 25 inherited canaries rewritten) against the
// same program built with plain -fstack-protector-strong.
func BenchmarkForkExitWait(b *testing.B) {
	base := build(b, forkSrc, "fork-plain", false)
	cand := build(b, forkSrc, "fork-runtime", true)
	compare(b, base, cand, "500", "cpu-ns/500forks")
}

// BenchmarkForkExitWaitParts splits that cost: the runtime linked but its
// renewal switched off (IMMUNIX_CANARY_RENEW=0: the fork handler runs and
// returns at once) against plain, and renewal on against renewal off.
func BenchmarkForkExitWaitParts(b *testing.B) {
	base := build(b, forkSrc, "fork-plain", false)
	cand := build(b, forkSrc, "fork-runtime", true)
	var ps, offs, ons []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps = append(ps, runNs(b, base, "500"))
		offs = append(offs, runNs(b, cand, "500", "IMMUNIX_CANARY_RENEW=0"))
		ons = append(ons, runNs(b, cand, "500"))
	}
	b.StopTimer()
	p, off, on := median(ps), median(offs), median(ons)
	b.ReportMetric(off/p, "ratio-handler-only")
	b.ReportMetric(on/off, "ratio-renewal-work")
	b.ReportMetric(on/p, "ratio")
}

// BenchmarkCallHeavy: ~1.3*10^8 calls of a canary-carrying function, linked
// with the runtime against plain -fstack-protector-strong.
func BenchmarkCallHeavy(b *testing.B) {
	// Both aligned alike: linking the runtime shifts .text, and a hot loop's
	// position within a cache line would otherwise weigh more than the
	// runtime itself (TestHotPathUnchanged shows the code is the same).
	base := build(b, callSrc, "calls-plain", false, "-falign-functions=64")
	cand := build(b, callSrc, "calls-runtime", true, "-falign-functions=64")
	compare(b, base, cand, "38", "cpu-ns/run")
}

// BenchmarkCallHeavyImmunixCC: the same call-heavy program built by
// immunix-cc with its defaults (runtime, FORTIFY, stack-clash, CET, PIE,
// RELRO...) against plain gcc -fstack-protector-strong.
func BenchmarkCallHeavyImmunixCC(b *testing.B) {
	base := build(b, callSrc, "calls-plain", false, "-falign-functions=64")
	dir := b.TempDir()
	c := filepath.Join(dir, "calls.c")
	if err := os.WriteFile(c, []byte(callSrc), 0o644); err != nil {
		b.Fatal(err)
	}
	cand := filepath.Join(dir, "calls-immunix")
	cmd := exec.Command(filepath.Join(testenv.Binaries(b), "immunix-cc"), "-O2", "-falign-functions=64", c, "-o", cand)
	cmd.Env = append(os.Environ(), "IMMUNIX_CC=gcc")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("immunix-cc: %v\n%s", err, out)
	}
	compare(b, base, cand, "38", "cpu-ns/run")
}
