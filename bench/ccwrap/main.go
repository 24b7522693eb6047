// Command ccwrap measures immunix-cc's per-invocation overhead: it times
// "immunix-cc -c hello.c" against the real compiler run with the identical
// final argument list (taken from IMMUNIX_DEBUG=1), alternating the two in
// one run, and prints the medians and the difference.
//
// Usage (from the module root):
//
//	go build -o /tmp/immunix-cc ./cmd/immunix-cc
//	go run ./bench/ccwrap -wrapper /tmp/immunix-cc -cc gcc -n 300
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/shlex"
)

const hello = `#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
`

func main() {
	wrapper := flag.String("wrapper", "", "path of immunix-cc (required)")
	cc := flag.String("cc", "gcc", "the real compiler (IMMUNIX_CC)")
	n := flag.Int("n", 300, "runs of each command")
	opt := flag.String("O", "-O2", "optimisation flag of the compile")
	floor := flag.String("floor", "", "also time this program running the final command (bench/ccwrap/floor: a Go wrapper that only execs)")
	var extra envList
	flag.Var(&extra, "env", "KEY=VALUE for immunix-cc (repeatable), e.g. IMMUNIX_DISABLE=formatguard")
	flag.Parse()
	if *wrapper == "" {
		fmt.Fprintln(os.Stderr, "bench/ccwrap: -wrapper is required")
		os.Exit(2)
	}
	if err := run(*wrapper, *cc, *opt, *floor, *n, extra); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ccwrap:", err)
		os.Exit(1)
	}
}

type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(s string) error { *e = append(*e, s); return nil }

func run(wrapper, cc, opt, floor string, n int, extra []string) error {
	dir, err := os.MkdirTemp("", "immunix-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "hello.c"), []byte(hello), 0o644); err != nil {
		return err
	}
	env := append(append(os.Environ(), "IMMUNIX_CC="+cc, "IMMUNIX_CACHE_DIR="+filepath.Join(dir, "cache")), extra...)
	wrapped := []string{wrapper, opt, "-c", "hello.c", "-o", "hello.o"}

	// The final command, from IMMUNIX_DEBUG (this first run also fills
	// the cache: probe and stamp header).
	c := exec.Command(wrapped[0], wrapped[1:]...)
	c.Dir, c.Env = dir, append(env, "IMMUNIX_DEBUG=1")
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(wrapped, " "), err, errb.String())
	}
	var direct []string
	for _, line := range strings.Split(errb.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "immunix-cc: /"); ok {
			if direct, err = shlex.Split("/" + rest); err != nil {
				return fmt.Errorf("split the debug line: %w", err)
			}
		}
	}
	if direct == nil {
		return fmt.Errorf("no final command in the IMMUNIX_DEBUG output: %q", errb.String())
	}
	// time1 returns the wall time and the CPU time (user+system of the
	// process and the children it waited for) of one run.
	time1 := func(argv []string) (time.Duration, time.Duration, error) {
		c := exec.Command(argv[0], argv[1:]...)
		c.Dir, c.Env = dir, env
		start := time.Now()
		out, err := c.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
		return d, c.ProcessState.UserTime() + c.ProcessState.SystemTime(), nil
	}
	for i := 0; i < 10; i++ { // warm up the page cache
		if _, _, err := time1(wrapped); err != nil {
			return err
		}
		if _, _, err := time1(direct); err != nil {
			return err
		}
	}
	var tw, td, tf, cw, cd, cf, diff []time.Duration
	var floorCmd []string
	if floor != "" {
		floorCmd = append([]string{floor}, direct...)
	}
	for i := 0; i < n; i++ {
		order := [][]string{wrapped, direct}
		if i%2 == 1 {
			order = [][]string{direct, wrapped}
		}
		if floorCmd != nil {
			order = append(order, floorCmd)
		}
		var pair [2]time.Duration
		for k, argv := range order {
			d, cpu, err := time1(argv)
			if err != nil {
				return err
			}
			switch {
			case floorCmd != nil && k == 2:
				tf, cf = append(tf, d), append(cf, cpu)
			case argv[0] == wrapper:
				tw, cw = append(tw, d), append(cw, cpu)
				pair[0] = d
			default:
				td, cd = append(td, d), append(cd, cpu)
				pair[1] = d
			}
		}
		diff = append(diff, pair[0]-pair[1])
	}
	mw, md := median(tw), median(td)
	fmt.Printf("compiler:  %s\n", cc)
	if len(extra) > 0 {
		fmt.Printf("env:       %s\n", strings.Join(extra, " "))
	}
	fmt.Printf("wrapped:   %s\n", strings.Join(wrapped, " "))
	fmt.Printf("direct:    %s\n", strings.Join(direct, " "))
	fmt.Printf("runs:      %d each, alternating\n", n)
	fmt.Printf("median:    immunix-cc %.3f ms, direct %.3f ms\n", ms(mw), ms(md))
	fmt.Printf("quartiles: immunix-cc %.3f..%.3f ms, direct %.3f..%.3f ms\n", ms(quantile(tw, 0.25)), ms(quantile(tw, 0.75)), ms(quantile(td, 0.25)), ms(quantile(td, 0.75)))
	fmt.Printf("overhead:  %.3f ms (difference of medians, ratio %.3f); %.3f ms (median of paired differences)\n", ms(mw-md), float64(mw)/float64(md), ms(median(diff)))
	fmt.Printf("cpu:       immunix-cc %.3f ms, direct %.3f ms median: overhead %.3f ms\n", ms(median(cw)), ms(median(cd)), ms(median(cw)-median(cd)))
	if floorCmd != nil {
		fmt.Printf("floor:     %s: median %.3f ms, overhead %.3f ms, cpu overhead %.3f ms\n", floor, ms(median(tf)), ms(median(tf)-md), ms(median(cf)-median(cd)))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

func quantile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}
