// Command boundsguard measures the CPU cost of BoundsGuard and the candidate
// protections on a CPU-bound set built by build.sh: a bzip2 round trip
// (compress -9 and decompress one input file, output compared) and, where
// built, sqlite3's speedtest1. Variants run alternately in one process, round
// after round, so load changes hit all of them alike; the figure is the
// median CPU time (user+sys of the child) per variant and its ratio to the
// baseline of the same compiler ("base" for gcc, "clang-base" for clang).
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
	size := flag.Int("speedtest-size", 25, "speedtest1 --size")
	flag.Parse()
	variants := flag.Args()
	if *dir == "" || *input == "" || len(variants) == 0 {
		fmt.Fprintln(os.Stderr, "usage: boundsguard -dir DIR -input FILE [-n ROUNDS] VARIANT...")
		os.Exit(2)
	}
	orig, err := os.ReadFile(*input)
	if err != nil {
		fail(err)
	}
	tmp, err := os.MkdirTemp("", "bench-boundsguard")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	times := map[string][]time.Duration{}
	for round := 0; round < *n; round++ {
		for _, v := range variants {
			bz := filepath.Join(*dir, v, "bzip2")
			comp, t1 := run(bz, orig, "-9", "-c")
			back, t2 := run(bz, comp, "-d", "-c")
			if !bytes.Equal(back, orig) {
				fail(fmt.Errorf("%s: round trip changed the data", v))
			}
			times["bzip2|"+v] = append(times["bzip2|"+v], t1+t2)
			st := filepath.Join(*dir, v, "speedtest1")
			if _, err := os.Stat(st); err == nil {
				db := filepath.Join(tmp, "st.db")
				os.Remove(db)
				_, t := run(st, nil, "--size", fmt.Sprint(*size), db)
				times["speedtest1|"+v] = append(times["speedtest1|"+v], t)
			}
		}
	}
	fmt.Printf("%-11s %-15s %10s %7s\n", "benchmark", "variant", "CPU (med)", "ratio")
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
			ratio := "-"
			if bs := times[b+"|"+base]; len(bs) > 0 {
				ratio = fmt.Sprintf("%.3f", float64(m)/float64(median(bs)))
			}
			fmt.Printf("%-11s %-15s %9.3fs %7s\n", b, v, m.Seconds(), ratio)
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
