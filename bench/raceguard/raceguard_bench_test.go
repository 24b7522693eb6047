package raceguard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "immunix-rg-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("IMMUNIX_CACHE_DIR", dir)
	guardlib.SystemDir = filepath.Join(dir, "no-system-copies")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// variant is one way of running the workload.
type variant struct {
	name string
	exe  string   // the loop program, or the directory of the bzip2 build
	env  []string // added to the environment
}

// immunixCC runs immunix-cc over gcc with env, in dir.
func immunixCC(b *testing.B, dir string, env []string, args ...string) {
	b.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(b), "immunix-cc"), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "IMMUNIX_CC=gcc", "IMMUNIX_CONFIG=/nonexistent/immunix.conf"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("immunix-cc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cpu runs argv with env and returns its user+system time.
func cpu(b *testing.B, env []string, argv ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD="), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// compare runs each variant's round once per iteration, alternating, and
// reports each variant's mean CPU time per round and its ratio to the
// first (RaceGuard on).
func compare(b *testing.B, vs []variant, round func(v variant) time.Duration) {
	sum := make([]time.Duration, len(vs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range vs {
			k := (i + j) % len(vs) // rotate who goes first
			sum[k] += round(vs[k])
		}
	}
	b.StopTimer()
	for j, v := range vs {
		b.ReportMetric(float64(sum[j].Microseconds())/float64(b.N)/1000, "ms-cpu-"+v.name)
		if j > 0 {
			b.ReportMetric(float64(sum[0])/float64(sum[j]), "ratio-on/"+v.name)
		}
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", strings.TrimSpace(string(l)))
	}
}

// BenchmarkFileLoop: 50,000 rounds of loop.c (existing and absent names
// probed and opened, a temporary name probed, created and removed).
func BenchmarkFileLoop(b *testing.B) {
	testenv.NeedsTool(b, "gcc")
	dir := b.TempDir()
	src, _ := filepath.Abs("testdata/loop.c")
	on := filepath.Join(dir, "loop")
	noRT := filepath.Join(dir, "loop-noruntime")
	immunixCC(b, dir, nil, "-O2", "-o", on, src)
	immunixCC(b, dir, []string{"IMMUNIX_DISABLE=runtime"}, "-O2", "-o", noRT, src)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		b.Fatal(err)
	}
	vs := []variant{
		{name: "on", exe: on},
		{name: "off", exe: on, env: []string{"IMMUNIX_RACEGUARD=off"}},
		{name: "noruntime", exe: noRT},
	}
	compare(b, vs, func(v variant) time.Duration {
		return cpu(b, v.env, v.exe, work, "50000")
	})
}

// BenchmarkBzip2: bzip2 1.0.8 (Debian 12's source) built through immunix-cc,
// compressing 400 files of 2-14 KiB with -k (it probes each output name
// before creating it) and decompressing them again.
func BenchmarkBzip2(b *testing.B) {
	testenv.NeedsTool(b, "gcc")
	testenv.NeedsTool(b, "apt-get")
	src := os.Getenv("IMMUNIX_BENCH_BZIP2_SRC") // an unpacked bzip2 source tree, else fetched
	dir := b.TempDir()
	if src == "" {
		cmd := exec.Command("apt-get", "source", "-qq", "bzip2")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Missing(b, fmt.Sprintf("apt-get source bzip2: %v\n%s", err, out))
		}
		m, _ := filepath.Glob(filepath.Join(dir, "bzip2-*"))
		if len(m) != 1 {
			b.Fatalf("bzip2 source: %v", m)
		}
		src = m[0]
	}
	var vs []variant
	for _, c := range []struct {
		name string
		env  []string
		run  []string
	}{
		{"on", nil, nil},
		{"off", nil, []string{"IMMUNIX_RACEGUARD=off"}},
		{"noruntime", []string{"IMMUNIX_DISABLE=runtime"}, nil},
	} {
		bdir := filepath.Join(dir, "build-"+c.name)
		if c.name == "off" {
			vs = append(vs, variant{name: c.name, exe: filepath.Join(dir, "build-on", "bzip2"), env: c.run})
			continue
		}
		if out, err := exec.Command("cp", "-a", src, bdir).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v\n%s", err, out)
		}
		cc := filepath.Join(testenv.Binaries(b), "immunix-cc")
		cmd := exec.Command("make", "-s", "CC="+cc, "CFLAGS=-O2 -D_FILE_OFFSET_BITS=64", "bzip2")
		cmd.Dir = bdir
		cmd.Env = append(append(os.Environ(), "IMMUNIX_CC=gcc", "IMMUNIX_CONFIG=/nonexistent/immunix.conf"), c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("make bzip2: %v\n%s", err, out)
		}
		vs = append(vs, variant{name: c.name, exe: filepath.Join(bdir, "bzip2"), env: c.run})
	}
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		b.Fatal(err)
	}
	var files []string
	for i := 0; i < 400; i++ {
		p := filepath.Join(tree, fmt.Sprintf("f%04d.txt", i))
		data := []byte(strings.Repeat(fmt.Sprintf("line %d of a file RaceGuard watches\n", i), 60+i%300))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, p)
	}
	compare(b, vs, func(v variant) time.Duration {
		t := cpu(b, v.env, append([]string{v.exe, "-k", "-1"}, files...)...)
		var bz []string
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				b.Fatal(err)
			}
			bz = append(bz, f+".bz2")
		}
		t += cpu(b, v.env, append([]string{v.exe, "-d"}, bz...)...)
		return t
	})
}
