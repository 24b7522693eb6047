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
	fmt.Printf("%d ELF files under %s (regular files, no symlinks), %d CPUs, %s.\n\n", len(files), strings.Join(roots, " "), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))

	timeIt := func(f func() error) (time.Duration, error) {
		t := time.Now()
		err := f()
		return time.Since(t), err
	}
	var ours, ours1, hc, cs compare.Verdicts
	// Warm the page cache once, untimed, so no tool pays for the first read.
	if _, err := compare.Immunix(*bin, files, "--no-code"); err != nil {
		check(err)
	}
	tOurs, err := timeIt(func() (e error) { ours, e = compare.Immunix(*bin, files); return })
	check(err)
	tOurs1, err := timeIt(func() (e error) { ours1, e = compare.Immunix(*bin, files, "-j", "1"); return })
	check(err)
	tHC, err := timeIt(func() (e error) { hc, e = compare.HardeningCheck(files); return })
	check(err)
	tCS, err := timeIt(func() (e error) { cs, e = compare.Checksec(roots); return })
	check(err)
	_ = ours1

	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("| tool | command | files | seconds | files/s | immunix check (all cores) ÷ this, in files/s |\n|---|---|---|---|---|---|\n")
	row := func(name, cmd string, n int, d time.Duration) {
		fmt.Printf("| %s | `%s` | %d | %.1f | %.1f | %.1f× |\n", name, cmd, n, d.Seconds(), rate(n, d), rate(len(files), tOurs)/rate(n, d))
	}
	row("immunix check", "immunix check -f json - (all cores, code analysis on)", len(files), tOurs)
	row("immunix check -j1", "immunix check -f json -j 1 - (one core)", len(files), tOurs1)
	row("hardening-check", "hardening-check FILE... (batches of 200)", len(hc), tHC)
	row("checksec", "checksec --output=csv --dir=DIR (each root)", len(cs), tCS)
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
