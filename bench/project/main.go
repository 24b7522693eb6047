// Command project measures what immunix-cc costs on the build of a whole
// real C project, against the same build run by hand, in the same run with
// the two sides interleaved round by round (the machines are noisy).
//
//	go run ./bench/project -rounds 5
//
// Two projects, both from Debian 12's sources:
//
//   - sqlite3: the 8.6 MB amalgamation (sqlite3.c + shell.c) built into the
//     sqlite3 shell by one compiler command. Sides: immunix-cc; the real
//     compiler given immunix-cc's exact final argument list (so the ratio is
//     the wrapper's own cost); and the real compiler with the hardening flags
//     typed by hand (no FormatGuard, stamp or runtime: what immunix adds on
//     top of hand hardening).
//   - hello and mawk: each configured once per side, then `make -jN` from
//     clean for every N of -jobs (issue 20: a parallel build's cost). Sides:
//     CC=immunix-cc, and CC=gcc with the hardening flags by hand; with
//     -specs FILE also CC="gcc -specs=FILE", the zero-process mode (FILE is
//     the immunix.specs of "immunix toolchain-config"), whose ratio to the
//     by-hand side is printed too.
//
// With -clang-config FILE (the immunix-clang.cfg of "immunix
// toolchain-config"), every project is also built by clang with the
// hardening flags by hand and by "clang --config FILE" (clang's
// zero-process mode), and the ratio of the two is printed; with -specs,
// sqlite3 is also built by "gcc -specs=FILE" against gcc by hand.
//
// Each build reports its wall time and its CPU time (user+system of make
// and everything it waited for, from wait4's rusage), medians per side.
//
// It needs root (apt-get source) and immunix-cc on PATH or -immunix-cc.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"
)

var (
	rounds    = flag.Int("rounds", 5, "rounds per side")
	immunixCC = flag.String("immunix-cc", "immunix-cc", "the immunix-cc to measure")
	workDir   = flag.String("work", "/var/cache/immunix-bench", "where sources are fetched and built")
	only      = flag.String("only", "", "run only this project (sqlite3, hello or mawk)")
	jobs      = flag.String("jobs", "2", "comma-separated make -j levels for hello and mawk")
	specs     = flag.String("specs", "", "also measure CC=\"gcc -specs=FILE\" (the zero-process mode)")
	clangCfg  = flag.String("clang-config", "", "also measure clang by hand against CC=\"clang --config FILE\" (clang's zero-process mode)")
)

// Hardening a careful user would type by hand: the flags immunix-cc injects,
// without FormatGuard, the build stamp and the guard runtime.
var (
	handCompile = []string{"-fstack-protector-strong", "-fstack-clash-protection", "-fcf-protection=full",
		"-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=3", "-Wformat", "-Wformat-security", "-fPIE"}
	handLink = []string{"-pie", "-Wl,-z,relro", "-Wl,-z,now", "-Wl,-z,noexecstack"}
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/project:", err)
		os.Exit(1)
	}
}

func run() error {
	cc, err := exec.LookPath(*immunixCC)
	if err != nil {
		return fmt.Errorf("find immunix-cc: %w", err)
	}
	*immunixCC = cc
	fmt.Printf("# %s, %d rounds per side, sides interleaved\n", time.Now().UTC().Format(time.RFC3339), *rounds)
	if *only == "" || *only == "sqlite3" {
		if err := benchSQLite(); err != nil {
			return err
		}
	}
	for _, pkg := range []string{"hello", "mawk"} {
		if *only == "" || *only == pkg {
			if err := benchConfigured(pkg); err != nil {
				return err
			}
		}
	}
	return nil
}

// source fetches the Debian source package pkg once and returns its
// unpacked directory.
func source(pkg string) (string, error) {
	dir := filepath.Join(*workDir, pkg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	find := func() string {
		m, _ := filepath.Glob(filepath.Join(dir, pkg+"-*"))
		for _, d := range m {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
		}
		return ""
	}
	if d := find(); d != "" {
		return d, nil
	}
	if err := sh(dir, nil, "apt-get", "source", "-qq", pkg); err != nil {
		return "", err
	}
	if d := find(); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("apt-get source %s left no directory", pkg)
}

func sh(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// timed runs argv and returns its wall time and its CPU time (user+system
// of the process and of every descendant it waited for: wait4's rusage).
func timed(dir string, env []string, argv []string) (measured, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	m := measured{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out.String())
	}
	return m, nil
}

// measured is one build's wall and CPU time.
type measured struct{ wall, cpu time.Duration }

// side is one way of doing the same build.
type side struct {
	name  string
	prep  func() error // untimed: clean
	build func() (measured, error)
	wall  []time.Duration
	cpu   []time.Duration
}

func measure(title string, sides []*side) error {
	// One untimed warm-up build per side: fills the page cache and immunix's
	// caches (capability probe, runtime archive), as in any real build.
	for _, s := range sides {
		if s.prep != nil {
			if err := s.prep(); err != nil {
				return err
			}
		}
		if _, err := s.build(); err != nil {
			return fmt.Errorf("%s, %s (warm-up): %w", title, s.name, err)
		}
	}
	for r := 0; r < *rounds; r++ {
		for i := range sides {
			s := sides[(i+r)%len(sides)] // rotate the order every round
			if s.prep != nil {
				if err := s.prep(); err != nil {
					return err
				}
			}
			d, err := s.build()
			if err != nil {
				return fmt.Errorf("%s, %s: %w", title, s.name, err)
			}
			s.wall = append(s.wall, d.wall)
			s.cpu = append(s.cpu, d.cpu)
		}
	}
	fmt.Printf("\n## %s\n", title)
	baseWall, baseCPU := median(sides[0].wall), median(sides[0].cpu)
	for _, s := range sides {
		w, c := median(s.wall), median(s.cpu)
		fmt.Printf("%-40s wall median %8.3fs ratio immunix-cc/this %.4f   cpu median %8.3fs ratio %.4f   (wall %.3f..%.3fs, cpu %.3f..%.3fs)\n",
			s.name, w.Seconds(), baseWall.Seconds()/w.Seconds(), c.Seconds(), baseCPU.Seconds()/c.Seconds(),
			slices.Min(s.wall).Seconds(), slices.Max(s.wall).Seconds(), slices.Min(s.cpu).Seconds(), slices.Max(s.cpu).Seconds())
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func benchSQLite() error {
	src, err := source("sqlite3")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(src, "sqlite3.c")); err != nil {
		if err := sh(src, nil, "./configure", "-q"); err != nil {
			return err
		}
		if err := sh(src, nil, "make", "-s", "sqlite3.c", "shell.c"); err != nil {
			return err
		}
	}
	user := []string{"-O2", "-DSQLITE_THREADSAFE=0", "-DSQLITE_OMIT_LOAD_EXTENSION", "sqlite3.c", "shell.c", "-o", "sqlite3-bench", "-lm"}
	// The exact final command immunix-cc runs for these arguments.
	out, err := exec.Command(*immunixCC, append([]string{"--immunix-explain"}, user...)...).Output()
	if err != nil {
		return fmt.Errorf("immunix-cc --immunix-explain: %w", err)
	}
	var final []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "command:"); ok {
			if final, err = shlex.Split(strings.TrimSpace(rest)); err != nil {
				return fmt.Errorf("split explained command: %w", err)
			}
		}
	}
	if len(final) == 0 {
		return fmt.Errorf("immunix-cc --immunix-explain printed no command:\n%s", out)
	}
	real := final[0]
	hand := append(append(append([]string{real}, handCompile...), handLink...), user...)
	fmt.Printf("sqlite3: %s\nexact: %s\nhand:  %s\n", src, strings.Join(final, " "), strings.Join(hand, " "))
	sides := []*side{
		{name: "immunix-cc", build: func() (measured, error) { return timed(src, nil, append([]string{*immunixCC}, user...)) }},
		{name: "real compiler, immunix-cc's exact argv", build: func() (measured, error) { return timed(src, nil, final) }},
		{name: "real compiler, hardening flags by hand", build: func() (measured, error) { return timed(src, nil, hand) }},
	}
	var pairs [][2]*side // [by hand, zero-process mode]
	if *specs != "" {
		byHand := append(append(append([]string{"gcc"}, handCompile...), handLink...), user...)
		mode := append([]string{"gcc", "-specs=" + *specs}, user...)
		pairs = append(pairs, [2]*side{
			{name: "gcc, hardening flags by hand", build: func() (measured, error) { return timed(src, nil, byHand) }},
			{name: "zeroproc: gcc -specs", build: func() (measured, error) { return timed(src, nil, mode) }},
		})
	}
	if *clangCfg != "" {
		byHand := append(append(append([]string{"clang"}, handCompile...), handLink...), user...)
		mode := append([]string{"clang", "--config", *clangCfg}, user...)
		pairs = append(pairs, [2]*side{
			{name: "clang, hardening flags by hand", build: func() (measured, error) { return timed(src, nil, byHand) }},
			{name: "zeroproc: clang --config", build: func() (measured, error) { return timed(src, nil, mode) }},
		})
	}
	for _, p := range pairs {
		sides = append(sides, p[0], p[1])
	}
	if err := measure("sqlite3 amalgamation, one command (sqlite3.c + shell.c → sqlite3)", sides); err != nil {
		return err
	}
	for _, p := range pairs {
		printModeRatio(p[1].name, p[0], p[1])
	}
	return nil
}

// printModeRatio prints a zero-process side's medians over its by-hand
// side's.
func printModeRatio(name string, byHand, mode *side) {
	fmt.Printf("%s / by hand: wall %.4f   cpu %.4f\n", name,
		median(mode.wall).Seconds()/median(byHand.wall).Seconds(), median(mode.cpu).Seconds()/median(byHand.cpu).Seconds())
}

// benchConfigured measures pkg's Debian source (an autoconf configure
// and a Makefile: hello, mawk) built with make -jN from clean, for each N
// of -jobs.
func benchConfigured(pkg string) error {
	orig, err := source(pkg)
	if err != nil {
		return err
	}
	levels, err := jobLevels(*jobs)
	if err != nil {
		return err
	}
	// One configured tree per side, so both build from the same state.
	mk := func(name string, env []string, cc string, cflags, ldflags []string, j int) (*side, error) {
		dir := filepath.Join(*workDir, pkg+"-"+strings.Fields(name)[0])
		os.RemoveAll(dir)
		if err := sh("/", nil, "cp", "-a", orig, dir); err != nil {
			return nil, err
		}
		args := []string{"./configure", "CC=" + cc, "CFLAGS=" + strings.Join(append([]string{"-O2", "-g"}, cflags...), " ")}
		if len(ldflags) > 0 {
			args = append(args, "LDFLAGS="+strings.Join(ldflags, " "))
		}
		if err := sh(dir, env, args[0], args[1:]...); err != nil {
			return nil, err
		}
		return &side{
			name:  name,
			prep:  func() error { return sh(dir, env, "make", "-s", "clean") },
			build: func() (measured, error) { return timed(dir, env, []string{"make", "-s", "-j" + strconv.Itoa(j)}) },
		}, nil
	}
	for _, j := range levels {
		a, err := mk("immunix-cc", []string{"IMMUNIX_CC=gcc"}, *immunixCC, nil, nil, j)
		if err != nil {
			return err
		}
		b, err := mk("gcc, hardening flags by hand", nil, "gcc", handCompile, handLink, j)
		if err != nil {
			return err
		}
		sides := []*side{a, b}
		var pairs [][2]*side // [by hand, zero-process mode]
		if *specs != "" {
			c, err := mk("zeroproc: gcc -specs (zero-process mode)", nil, "gcc -specs="+*specs, nil, nil, j)
			if err != nil {
				return err
			}
			pairs = append(pairs, [2]*side{b, c})
		}
		if *clangCfg != "" {
			hand, err := mk("clang, hardening flags by hand", nil, "clang", handCompile, handLink, j)
			if err != nil {
				return err
			}
			mode, err := mk("zeroproc-clang: clang --config (zero-process mode)", nil, "clang --config "+*clangCfg, nil, nil, j)
			if err != nil {
				return err
			}
			pairs = append(pairs, [2]*side{hand, mode})
		}
		for _, p := range pairs {
			if p[0] != b {
				sides = append(sides, p[0])
			}
			sides = append(sides, p[1])
		}
		if err := measure(fmt.Sprintf("%s (%s), make -j%d from clean (configure not timed)", pkg, filepath.Base(orig), j), sides); err != nil {
			return err
		}
		for _, p := range pairs {
			printModeRatio(strings.Fields(p[1].name)[0], p[0], p[1])
		}
	}
	return nil
}

// jobLevels parses -jobs ("1,2,4").
func jobLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-jobs %q: %q is not a job count", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}
