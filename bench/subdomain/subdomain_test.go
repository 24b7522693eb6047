// Package subdomain_bench measures immunix's SubDomain tools against the
// alternatives, in the same run: trace parsing throughput, learn's wall
// time against strace alone, and run's start-up against a direct exec.
//
//	go test -run XXX -bench . -benchtime 5x ./bench/subdomain
package subdomain_bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain/learn"
)

var (
	traceOnce sync.Once
	traceData []byte
	traceErr  error
)

// bigTrace records, once, a large real trace: ls -lR over /usr/lib and
// /usr/share (a stat, xattr and open for every file) traced with the
// options immunix learn uses.
func bigTrace(b *testing.B) []byte {
	testenv.NeedsTool(b, "strace")
	traceOnce.Do(func() {
		dir := b.TempDir()
		out := filepath.Join(dir, "trace")
		args := append(learn.StraceArgs(out), "--", "/bin/sh", "-c", "ls -lR /usr/lib /usr/share >/dev/null 2>&1; ls -lR /usr/lib >/dev/null 2>&1")
		if msg, err := exec.Command("strace", args...).CombinedOutput(); err != nil {
			traceErr = err
			b.Logf("%s", msg)
			return
		}
		traceData, traceErr = os.ReadFile(out)
	})
	if traceErr != nil {
		b.Fatal(traceErr)
	}
	return traceData
}

// BenchmarkParse: lines per second through the parser and the profile
// builder as immunix learn runs them (lookups such as stat skipped
// before their arguments are parsed), on one goroutine.
func BenchmarkParse(b *testing.B) { benchParse(b, true) }

// BenchmarkParseAll: the same with every line's arguments parsed.
func BenchmarkParseAll(b *testing.B) { benchParse(b, false) }

func benchParse(b *testing.B, skip bool) {
	data := bigTrace(b)
	lines := bytes.Count(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl := learn.NewBuilder(learn.Options{})
		p := &learn.Parser{Emit: bl.Add, SkipLookups: skip}
		if err := p.Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if p.Warnings > 0 {
			b.Fatalf("%d warnings: %s", p.Warnings, p.FirstWarning)
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	// Per CPU second of this process (parser, builder and GC): what one
	// core does, whatever else the shared machine runs.
	b.ReportMetric(float64(lines)*float64(b.N)/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(float64(lines), "lines")
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func immunixBin(b *testing.B) string {
	return filepath.Join(testenv.Binaries(b), "immunix")
}

func wall(b *testing.B, name string, args ...string) time.Duration {
	cmd := exec.Command(name, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// BenchmarkLearnWall compares immunix learn with strace -f alone (all
// calls, to /dev/null) and with strace given learn's own options, on the
// same workload, alternating runs; reports medians and ratios.
func BenchmarkLearnWall(b *testing.B) {
	testenv.NeedsTool(b, "strace")
	bin := immunixBin(b)
	dir := b.TempDir()
	work := []string{"/bin/sh", "-c", "ls -lR /usr/share/doc >/dev/null; python3 -c 'import json, email, http.client' ; for i in 1 2 3 4 5 6 7 8; do cat /etc/hostname >/dev/null; done"}
	var tLearn, tStrace, tSame []time.Duration
	for i := 0; i < b.N; i++ {
		tStrace = append(tStrace, wall(b, "strace", append([]string{"-f", "-o", "/dev/null", "--"}, work...)...))
		tSame = append(tSame, wall(b, "strace", append(learn.StraceArgs("/dev/null"), append([]string{"--"}, work...)...)...))
		tLearn = append(tLearn, wall(b, bin, append([]string{"learn", "-o", filepath.Join(dir, "p.sd"), "--"}, work...)...))
	}
	l, s, same := median(tLearn), median(tStrace), median(tSame)
	b.ReportMetric(l.Seconds()*1e3, "learn-ms")
	b.ReportMetric(s.Seconds()*1e3, "strace-f-ms")
	b.ReportMetric(same.Seconds()*1e3, "strace-same-opts-ms")
	b.ReportMetric(float64(l)/float64(s), "learn/strace-f")
	b.ReportMetric(float64(l)/float64(same), "learn/strace-same-opts")
}

const stampC = `
#include <stdio.h>
#include <time.h>
int main(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	return 0;
}
`

// runCost is what one run of the stamp program costs: the time from just
// before the fork to the stamp program's main (latency); the CPU time
// (user+system) of every process the run made: the command, what it
// waited for, and any process it left behind (immunix run's supervisor,
// a child of the program that outlives it), which this process, a child
// subreaper (see BenchmarkRunStartup), reaps; and the time from the fork
// until the last of them was reaped (whole: when a caller reading the
// program's stderr to its end, which the supervisor shares, would go on).
type runCost struct {
	latency, cpu, whole time.Duration
}

// startLatency runs argv (which ends in the stamp program) and returns
// what it cost.
func startLatency(b *testing.B, argv []string) runCost {
	var ts unix.Timespec
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	start := ts.Nano()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		if _, err := unix.Wait4(-1, &ws, 0, &ru); err != nil {
			break // ECHILD: none left
		}
		cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	end := ts.Nano()
	at, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if err != nil {
		b.Fatalf("%v: %q", argv, out.String())
	}
	return runCost{latency: time.Duration(at - start), cpu: cpu, whole: time.Duration(end - start)}
}

// costs collects runCosts.
type costs struct{ latency, cpu, whole []time.Duration }

func (c *costs) add(r runCost) {
	c.latency = append(c.latency, r.latency)
	c.cpu = append(c.cpu, r.cpu)
	c.whole = append(c.whole, r.whole)
}

// BenchmarkRunStartup measures how much later a program's main starts
// under immunix run (audit supervisor, and --no-audit) than when exec'd
// directly, alternating runs; medians. It also reports the CPU time
// (user+system) each run costs in all, supervisor included, against the
// direct exec's: steadier than the latency on a machine others load.
func BenchmarkRunStartup(b *testing.B) {
	testenv.NeedsTool(b, "strace")
	testenv.NeedsTool(b, "gcc")
	bin := immunixBin(b)
	stamp := cbuild.Build(b, "gcc", stampC, "-O2")
	prof := filepath.Join(b.TempDir(), "stamp.sd")
	if out, err := exec.Command(bin, "learn", "-o", prof, "--", stamp).CombinedOutput(); err != nil {
		b.Fatalf("learn: %v\n%s", err, out)
	}
	// The supervisor outlives the program it is the child of: reparented
	// here, its CPU time is counted.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		b.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	// IMMUNIX_BENCH_BASELINE=PATH[:PATH...]: other immunix binaries (an
	// older commit's, variants) measured in the same alternation, audit
	// mode; the first reports baseline-*, the next baseline2-*, ...
	var baselines []string
	if v := os.Getenv("IMMUNIX_BENCH_BASELINE"); v != "" {
		baselines = strings.Split(v, ":")
	}
	var direct, audit, noAudit costs
	base := make([]costs, len(baselines))
	for i := 0; i < b.N*20; i++ {
		direct.add(startLatency(b, []string{stamp}))
		audit.add(startLatency(b, []string{bin, "run", "--profile", prof, "--", stamp}))
		noAudit.add(startLatency(b, []string{bin, "run", "--no-audit", "--profile", prof, "--", stamp}))
		for j, other := range baselines {
			base[j].add(startLatency(b, []string{other, "run", "--profile", prof, "--", stamp}))
		}
	}
	d, a, n := median(direct.latency), median(audit.latency), median(noAudit.latency)
	cd, wd := median(direct.cpu), median(direct.whole)
	for j := range baselines {
		name := "baseline"
		if j > 0 {
			name += strconv.Itoa(j + 1)
		}
		b.ReportMetric((median(base[j].latency)-d).Seconds()*1e3, name+"-added-ms")
		b.ReportMetric((median(base[j].cpu)-cd).Seconds()*1e3, name+"-added-cpu-ms")
		b.ReportMetric((median(base[j].whole)-wd).Seconds()*1e3, name+"-added-whole-ms")
	}
	b.ReportMetric(d.Seconds()*1e3, "direct-ms")
	b.ReportMetric(a.Seconds()*1e3, "run-ms")
	b.ReportMetric(n.Seconds()*1e3, "run-no-audit-ms")
	b.ReportMetric((a-d).Seconds()*1e3, "added-ms")
	b.ReportMetric((n-d).Seconds()*1e3, "added-no-audit-ms")
	b.ReportMetric(cd.Seconds()*1e3, "direct-cpu-ms")
	b.ReportMetric((median(audit.cpu)-cd).Seconds()*1e3, "added-cpu-ms")
	b.ReportMetric((median(noAudit.cpu)-cd).Seconds()*1e3, "added-no-audit-cpu-ms")
	b.ReportMetric((median(audit.whole)-wd).Seconds()*1e3, "added-whole-ms")
	b.ReportMetric((median(noAudit.whole)-wd).Seconds()*1e3, "added-no-audit-whole-ms")
	// The floor: starting the immunix binary at all (Go runtime and the
	// package initialisers of what it links) against the stamp program;
	// and immunix-tools, which links check and learn: what immunix would
	// cost to start were they still in it.
	tools := filepath.Join(filepath.Dir(bin), "immunix-tools")
	var ver, toolsVer, plain []time.Duration
	for i := 0; i < b.N*20; i++ {
		plain = append(plain, wall(b, stamp))
		ver = append(ver, wall(b, bin, "--version"))
		toolsVer = append(toolsVer, wall(b, tools, "--version"))
	}
	b.ReportMetric((median(ver)-median(plain)).Seconds()*1e3, "immunix-version-added-ms")
	b.ReportMetric((median(toolsVer)-median(plain)).Seconds()*1e3, "tools-version-added-ms")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

const metaLoopC = `
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	/* FILE N [UID]: drop to UID (groups, gids, uids) if given, then
	 * chmod FILE N times; prints the nanoseconds per call */
	if (argc < 3) return 2;
	int n = atoi(argv[2]);
	if (argc > 3) {
		int id = atoi(argv[3]);
		gid_t g = id;
		if (setgroups(1, &g) || setresgid(id, id, id) || setresuid(id, id, id)) { perror("drop"); return 1; }
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		if (chmod(argv[1], i & 1 ? 0640 : 0600)) { perror("chmod"); return 1; }
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld\n", ((b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec) / n);
	return 0;
}
`

// BenchmarkMetaCall measures what one chmod costs a confined program,
// which the supervisor performs for it (issue 13 item 1): unconfined, as
// root (the supervisor acts on its own thread: the program's credentials
// are its own), and after the program dropped to uid 1000 (a thread
// with the program's credentials is made for each call). Each run does
// 2000 calls on a file of uid 1000's; medians over runs alternated.
//
//	go test -run XXX -bench MetaCall -benchtime 10x ./bench/subdomain
//	IMMUNIX_BENCH_BASELINE=/tmp/old-immunix go test -run XXX -bench MetaCall -benchtime 10x ./bench/subdomain
func BenchmarkMetaCall(b *testing.B) {
	testenv.NeedsTool(b, "strace")
	testenv.NeedsTool(b, "gcc")
	if os.Geteuid() != 0 {
		b.Skip("needs root: the program drops to uid 1000")
	}
	bin := immunixBin(b)
	prog := cbuild.Build(b, "gcc", metaLoopC, "-O2")
	dir, err := os.MkdirTemp("/var/tmp", "metabench")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	// The program where uid 1000 may run it.
	exe := filepath.Join(dir, "metaloop")
	if data, err := os.ReadFile(prog); err != nil || os.WriteFile(exe, data, 0o755) != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("x"), 0o600)
	os.Chown(file, 1000, 1000)
	prof := filepath.Join(dir, "metaloop.sd")
	if out, err := exec.Command(bin, "learn", "-o", prof, "--", exe, file, "2").CombinedOutput(); err != nil {
		b.Fatalf("learn: %v\n%s", err, out)
	}
	perCall := func(argv ...string) time.Duration {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			b.Fatalf("%v: %q", argv, out)
		}
		return time.Duration(ns)
	}
	const n = "2000"
	// IMMUNIX_BENCH_BASELINE=PATH: another immunix binary (an older
	// commit's) in the same alternation, with the supervisor's own
	// credentials (before this work it refused every call of uid 1000).
	baseline := os.Getenv("IMMUNIX_BENCH_BASELINE")
	var direct, root, user, base []time.Duration
	for i := 0; i < b.N; i++ {
		direct = append(direct, perCall(exe, file, n, "1000"))
		root = append(root, perCall(bin, "run", "--profile", prof, "--", exe, file, n))
		user = append(user, perCall(bin, "run", "--profile", prof, "--", exe, file, n, "1000"))
		if baseline != "" {
			base = append(base, perCall(baseline, "run", "--profile", prof, "--", exe, file, n))
		}
	}
	d, r, u := median(direct), median(root), median(user)
	if baseline != "" {
		b.ReportMetric(float64(median(base).Nanoseconds())/1e3, "baseline-same-creds-us/call")
	}
	b.ReportMetric(float64(d.Nanoseconds())/1e3, "direct-us/call")
	b.ReportMetric(float64(r.Nanoseconds())/1e3, "confined-same-creds-us/call")
	b.ReportMetric(float64(u.Nanoseconds())/1e3, "confined-uid1000-us/call")
	b.ReportMetric(float64(u)/float64(r), "uid1000/same-creds")
}
