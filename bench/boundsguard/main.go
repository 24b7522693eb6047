// Command boundsguard measures the CPU cost of BoundsGuard and the candidate
// protections on a CPU-bound set built by build.sh: a bzip2 round trip
// (compress -9 and decompress one input file, output compared) and, where
// built, sqlite3's speedtest1 on an in-memory database (--memdb). Variants run alternately in one process, round
// after round, so load changes hit all of them alike; the figure is the
// median CPU time (user+sys of the child) per variant, its ratio to the
// baseline of the same compiler ("base" for gcc, "clang-base" for clang),
// and the median of the per-round ratios (paired with the same round's
// baseline run).
//
//	go run ./bench/boundsguard -dir /tmp/bv -input /tmp/sqlite3.c -n 7 base bounds autoinit ...
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
)

func main() {
	dir := flag.String("dir", "", "directory of the variants built by build.sh")
	input := flag.String("input", "", "file the bzip2 round trip compresses")
	n := flag.Int("n", 7, "rounds")
	size := flag.Int("speedtest-size", 50, "speedtest1 --size (with --memdb: CPU-bound)")
	which := flag.String("bench", "bzip2,speedtest1", "benchmarks to run (speedtest1 only where built)")
	flag.Parse()
	variants := flag.Args()
	if *dir == "" || (*input == "" && strings.Contains(*which, "bzip2")) || len(variants) == 0 {
		fmt.Fprintln(os.Stderr, "usage: boundsguard -dir DIR [-input FILE] [-bench bzip2,speedtest1] [-n ROUNDS] VARIANT...")
		os.Exit(2)
	}
	var orig []byte
	if strings.Contains(*which, "bzip2") {
		var err error
		if orig, err = os.ReadFile(*input); err != nil {
			fail(err)
		}
	}
	times := map[string][]time.Duration{}
	for round := 0; round < *n; round++ {
		for _, v := range variants {
			if strings.Contains(*which, "bzip2") {
				bz := filepath.Join(*dir, v, "bzip2")
				comp, t1 := run(bz, orig, "-9", "-c")
				back, t2 := run(bz, comp, "-d", "-c")
				if !bytes.Equal(back, orig) {
					fail(fmt.Errorf("%s: round trip changed the data", v))
				}
				times["bzip2|"+v] = append(times["bzip2|"+v], t1+t2)
			}
			st := filepath.Join(*dir, v, "speedtest1")
			if _, err := os.Stat(st); err == nil && strings.Contains(*which, "speedtest1") {
				_, t := run(st, nil, "--memdb", "--size", fmt.Sprint(*size))
				times["speedtest1|"+v] = append(times["speedtest1|"+v], t)
			}
		}
	}
	fmt.Printf("%-11s %-15s %10s %7s %13s\n", "benchmark", "variant", "CPU (med)", "ratio", "paired ratio")
	for _, b := range []string{"bzip2", "speedtest1"} {
		for _, v := range variants {
			ts := times[b+"|"+v]
			if len(ts) == 0 {
				continue
			}
			base := "base"
			if strings.HasPrefix(v, "clang-") {
				base = "clang-base"
			}
			m := median(ts)
			ratio, paired := "-", "-"
			if bs := times[b+"|"+base]; len(bs) == len(ts) {
				ratio = fmt.Sprintf("%.3f", float64(m)/float64(median(bs)))
				// The same round's base run: load changes between
				// rounds cancel out.
				var rs []float64
				for i := range ts {
					rs = append(rs, float64(ts[i])/float64(bs[i]))
				}
				sort.Float64s(rs)
				paired = fmt.Sprintf("%.3f", rs[len(rs)/2])
			}
			fmt.Printf("%-11s %-15s %9.3fs %7s %13s\n", b, v, m.Seconds(), ratio, paired)
		}
	}
}

// run runs prog with stdin and returns its stdout and CPU time (user+sys).
func run(prog string, stdin []byte, args ...string) ([]byte, time.Duration) {
	cmd := exec.Command(prog, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("%s %s: %w", prog, strings.Join(args, " "), err))
	}
	return out.Bytes(), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func median(ts []time.Duration) time.Duration {
	s := append([]time.Duration{}, ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "boundsguard:", err)
	os.Exit(1)
}
