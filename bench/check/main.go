// Command check-bench measures immunix check against Debian's
// hardening-check and checksec on the same set of ELF files, in the same
// run, and lists where their verdicts differ on the properties they share.
//
//	go build -o /tmp/ ./cmd/immunix ./cmd/immunix-tools # immunix execs immunix-tools for check
//	go run ./bench/check -immunix /tmp/immunix /usr/bin /usr/lib/x86_64-linux-gnu
//
// It prints Markdown: the timings (files per second and the ratios) and
// the disagreements grouped by property, with examples.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/immunix/immunix/bench/check/compare"
)

func main() {
	bin := flag.String("immunix", "immunix", "the immunix binary to measure")
	examples := flag.Int("examples", 5, "example files per disagreement group")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: check-bench [-immunix BIN] DIR...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	roots := flag.Args()
	if len(roots) == 0 {
		roots = []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu"}
	}
	for _, tool := range []string{*bin, "hardening-check", "checksec"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "check-bench: %s: %v\n", tool, err)
			os.Exit(2)
		}
	}
	files, err := compare.ELFFiles(roots)
	if err != nil {
		fmt.Fprintf(os.Stderr, "check-bench: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("## immunix check vs hardening-check and checksec\n\n")
	fmt.Printf("%d ELF files under %s (regular files, no symlinks), %d CPUs, %s, load average %s at the start.\n\n", len(files), strings.Join(roots, " "), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadavg())

	// Wall time and CPU time (user+sys of the tool's processes and all
	// their descendants: every tool runs to completion and is waited for
	// before the next starts, so the delta of RUSAGE_CHILDREN is its own),
	// and the load average when it ended: the machine is shared.
	type cost struct {
		wall, cpu time.Duration
		load      string
	}
	timeIt := func(f func() error) (cost, error) {
		cpu0, t := childrenCPU(), time.Now()
		err := f()
		return cost{time.Since(t), childrenCPU() - cpu0, loadavg()}, err
	}
	var ours, hc, cs compare.Verdicts
	// Warm the page cache once, untimed, so no tool pays for the first read.
	if _, err := compare.Immunix(*bin, files, "--no-code"); err != nil {
		check(err)
	}
	cOurs, err := timeIt(func() (e error) { ours, e = compare.Immunix(*bin, files); return })
	check(err)
	cOurs1, err := timeIt(func() (e error) { _, e = compare.Immunix(*bin, files, "-j", "1"); return })
	check(err)
	cHC, err := timeIt(func() (e error) { hc, e = compare.HardeningCheck(files); return })
	check(err)
	cCS, err := timeIt(func() (e error) { cs, e = compare.Checksec(roots); return })
	check(err)

	perFile := func(n int, d time.Duration) float64 { return d.Seconds() / float64(n) }
	fmt.Printf("| tool | command | files | wall s | CPU s (user+sys) | load avg at end | immunix check's wall advantage (all cores, per file) | CPU advantage (-j 1, per file) |\n|---|---|---|---|---|---|---|---|\n")
	row := func(name, cmd string, n int, c cost) {
		fmt.Printf("| %s | `%s` | %d | %.1f | %.1f | %s | %.1f× | %.1f× |\n", name, cmd, n, c.wall.Seconds(), c.cpu.Seconds(), c.load,
			perFile(n, c.wall)/perFile(len(files), cOurs.wall), perFile(n, c.cpu)/perFile(len(files), cOurs1.cpu))
	}
	row("immunix check", "immunix check -f json - (all cores, code analysis on)", len(files), cOurs)
	row("immunix check -j1", "immunix check -f json -j 1 - (one core)", len(files), cOurs1)
	row("hardening-check", "hardening-check FILE... (batches of 200)", len(hc), cHC)
	row("checksec", "checksec --output=csv --dir=DIR (each root)", len(cs), cCS)
	fmt.Println()

	for _, other := range []struct {
		name string
		v    compare.Verdicts
	}{{"hardening-check", hc}, {"checksec", cs}} {
		ds := compare.Diff(ours, other.v)
		fmt.Printf("### Disagreements with %s\n\n%d file×property verdicts compared, %d differ.\n\n", other.name, compare.Compared(ours, other.v), len(ds))
		g := compare.Group(ds)
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(g[keys[i]]) != len(g[keys[j]]) {
				return len(g[keys[i]]) > len(g[keys[j]])
			}
			return keys[i] < keys[j]
		})
		if len(keys) > 0 {
			fmt.Printf("| property, verdicts | files | examples |\n|---|---|---|\n")
		}
		for _, k := range keys {
			ex := g[k][:min(len(g[k]), *examples)]
			fmt.Printf("| %s | %d | %s |\n", k, len(g[k]), strings.Join(ex, " "))
		}
		fmt.Println()
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "check-bench: %v\n", err)
		os.Exit(2)
	}
}

// childrenCPU is the user+system time of this process's waited-for
// children and their descendants so far.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		check(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadavg is the 1, 5 and 15 minute load averages, as the kernel reports them.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
