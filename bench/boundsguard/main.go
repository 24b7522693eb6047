// Command boundsguard measures the CPU cost of BoundsGuard and the candidate
// protections on a CPU-bound set built by build.sh: a bzip2 round trip
// (compress -9 and decompress one input file, output compared), sqlite3's
// speedtest1 on an in-memory database (--memdb), zlib's minigzip round trip
// (-9), an lzip round trip (lzip is C++) and lzip's own test suite,
// testdata/containers.cpp (C++ indexing libstdc++ containers), and gawk's
// own test suite (make check): each where built. Variants run
// alternately in one process, round after round, so load changes hit all of
// them alike; the figure is the median CPU time (user+sys of the child and
// everything it waited for) per variant, its ratio to the baseline of the
// same compiler ("base" for gcc, "clang-base" for clang), and the median of
// the per-round ratios (paired with the same round's baseline run).
//
//	go run ./bench/boundsguard -dir /tmp/bv -input /tmp/in2m -n 7 base bounds autoinit ...
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

// benches are the benchmarks in the order they are reported; each runs in
// the variant's directory where its program was built.
var benches = []string{"bzip2", "speedtest1", "zlib", "lzip", "lzipcheck", "containers", "gawkcheck"}

func main() {
	dir := flag.String("dir", "", "directory of the variants built by build.sh")
	input := flag.String("input", "", "file the bzip2, zlib and lzip round trips compress")
	n := flag.Int("n", 7, "rounds")
	size := flag.Int("speedtest-size", 50, "speedtest1 --size (with --memdb: CPU-bound)")
	scale := flag.Int("containers-scale", 20, "containers' SCALE argument (its kernels run that many times)")
	which := flag.String("bench", "bzip2,speedtest1,zlib,lzip", "benchmarks to run, each only where built: "+strings.Join(benches, ","))
	flag.Parse()
	variants := flag.Args()
	want := map[string]bool{}
	for _, b := range strings.Split(*which, ",") {
		want[b] = true
	}
	roundTrip := want["bzip2"] || want["zlib"] || want["lzip"]
	if *dir == "" || (*input == "" && roundTrip) || len(variants) == 0 {
		fmt.Fprintln(os.Stderr, "usage: boundsguard -dir DIR [-input FILE] [-bench "+strings.Join(benches, ",")+"] [-n ROUNDS] VARIANT...")
		os.Exit(2)
	}
	var orig []byte
	if roundTrip {
		var err error
		if orig, err = os.ReadFile(*input); err != nil {
			fail(err)
		}
	}
	built := func(v, file string) (string, bool) {
		p := filepath.Join(*dir, v, file)
		_, err := os.Stat(p)
		return p, err == nil
	}
	// trip compresses orig with prog and back, and checks the result.
	trip := func(v, prog string, comp, decomp []string) time.Duration {
		c, t1 := run(prog, "", orig, comp...)
		back, t2 := run(prog, "", c, decomp...)
		if !bytes.Equal(back, orig) {
			fail(fmt.Errorf("%s: %s round trip changed the data", v, prog))
		}
		return t1 + t2
	}
	times := map[string][]time.Duration{}
	for round := 0; round < *n; round++ {
		for _, v := range variants {
			if p, ok := built(v, "bzip2"); ok && want["bzip2"] {
				times["bzip2|"+v] = append(times["bzip2|"+v], trip(v, p, []string{"-9", "-c"}, []string{"-d", "-c"}))
			}
			if p, ok := built(v, "speedtest1"); ok && want["speedtest1"] {
				_, t := run(p, "", nil, "--memdb", "--size", fmt.Sprint(*size))
				times["speedtest1|"+v] = append(times["speedtest1|"+v], t)
			}
			if p, ok := built(v, "minigzip"); ok && want["zlib"] {
				times["zlib|"+v] = append(times["zlib|"+v], trip(v, p, []string{"-9"}, []string{"-d"}))
			}
			if p, ok := built(v, "lzip"); ok && want["lzip"] {
				times["lzip|"+v] = append(times["lzip|"+v], trip(v, p, []string{"-c"}, []string{"-d", "-c"}))
			}
			if _, ok := built(v, "lzip"); ok && want["lzipcheck"] {
				// lzip's testsuite/check.sh runs ./lzip of the current
				// directory; it needs the source's testsuite.
				src := os.Getenv("LZIP_SRC")
				if src == "" {
					fail(fmt.Errorf("lzipcheck needs LZIP_SRC, lzip's source directory"))
				}
				_, t := run("sh", filepath.Join(*dir, v), nil, filepath.Join(src, "testsuite", "check.sh"), filepath.Join(src, "testsuite"), "1.23")
				times["lzipcheck|"+v] = append(times["lzipcheck|"+v], t)
			}
			if p, ok := built(v, "containers"); ok && want["containers"] {
				_, t := run(p, "", nil, fmt.Sprint(*scale))
				times["containers|"+v] = append(times["containers|"+v], t)
			}
			if p, ok := built(v, "gawk/test/Makefile"); ok && want["gawkcheck"] {
				// The whole suite as make check runs it: gawk and the
				// shells, cmp and diff around it.
				out, t := runStatus("make", filepath.Dir(p), "check")
				times["gawkcheck|"+v] = append(times["gawkcheck|"+v], t)
				fmt.Fprintf(os.Stderr, "round %d %s gawk make check: %s\n", round, v, lastLine(out))
			}
		}
	}
	fmt.Printf("%-11s %-15s %10s %7s %13s\n", "benchmark", "variant", "CPU (med)", "ratio", "paired ratio")
	for _, b := range benches {
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

// runStatus runs prog in dir and returns its output (stdout and stderr) and
// CPU time; a non-zero exit is reported in the output, not fatal (gawk's
// make check exits non-zero when a test fails, the same way in every variant).
func runStatus(prog, dir string, args ...string) (string, time.Duration) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fail(fmt.Errorf("%s %s: %w", prog, strings.Join(args, " "), err))
	}
	if err != nil {
		fmt.Fprintf(&out, "\n%s", err)
	}
	return out.String(), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// lastLine is the last line of s that is not blank.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := lines[len(lines)-1]
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "TESTS") || strings.Contains(lines[i], "PASSED") {
			return lines[i] + " / " + last
		}
	}
	return last
}

// run runs prog (in dir, if not "") with stdin and returns its stdout and
// CPU time (user+sys, with the children it waited for).
func run(prog, dir string, stdin []byte, args ...string) ([]byte, time.Duration) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
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
