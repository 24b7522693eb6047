// Package distro measures what immunix costs a distribution builder: the
// wall time of real Debian 12 package rebuilds (dpkg-buildpackage -b, the
// packages of tests/distro) with the plain toolchain against the same
// rebuild in masquerade mode, and a distcc build over loopback with and
// without immunix-cc in front. Each iteration runs both variants, in
// alternating order, and the figure is the ratio of their summed times.
//
//	go test -run XXX -bench . -benchtime 3x -timeout 120m ./bench/distro
//
// Needs root (apt-get source, build-deps), as tests/distro's rebuilds do.
package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/shlex"

	"github.com/immunix/immunix/internal/testenv"
	dt "github.com/immunix/immunix/tests/distro"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dt.RemoveImage()
	os.Exit(code)
}

// times is wall and CPU time summed over builds.
type times struct{ wall, cpu time.Duration }

func (t *times) add(o times) { t.wall += o.wall; t.cpu += o.cpu }

// report records both variants and their ratios.
func report(b *testing.B, plain, imm times) {
	b.ReportMetric(plain.wall.Seconds()/float64(b.N), "plain-s/op")
	b.ReportMetric(imm.wall.Seconds()/float64(b.N), "immunix-s/op")
	b.ReportMetric(imm.wall.Seconds()/plain.wall.Seconds(), "wall-ratio")
	b.ReportMetric(imm.cpu.Seconds()/plain.cpu.Seconds(), "cpu-ratio")
}

// rebuild builds pkg once with env and returns its wall and CPU time.
func rebuild(b *testing.B, pkg dt.Package, env []string) times {
	b.Helper()
	src := testenv.DebianSource(b, pkg.Name)
	if err := dt.EnsureBuildDeps(src); err != nil {
		b.Fatal(err)
	}
	res, err := dt.DpkgBuild(src, env, "")
	if err != nil {
		b.Fatal(err)
	}
	if r, err := pkg.Results(res.Log); err != nil || r.Failed > 0 {
		b.Fatalf("%s's tests: %v %v", pkg.Name, r, err)
	}
	return times{res.Elapsed, res.CPU}
}

// BenchmarkRebuild: plain toolchain against immunix (masquerade), both with
// Debian's own build flags, per package.
func BenchmarkRebuild(b *testing.B) {
	testenv.NeedsRoot(b)
	im := dt.InstallImage(b)
	plainEnv := dt.DebianBuildEnv(dt.CleanEnv())
	immEnv := dt.DebianBuildEnv(im.Env(dt.CleanEnv()))
	for _, pkg := range dt.Packages {
		b.Run(pkg.Name, func(b *testing.B) {
			var plain, imm times
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					plain.add(rebuild(b, pkg, plainEnv))
					imm.add(rebuild(b, pkg, immEnv))
				} else {
					imm.add(rebuild(b, pkg, immEnv))
					plain.add(rebuild(b, pkg, plainEnv))
				}
			}
			report(b, plain, imm)
		})
	}
}

// BenchmarkDistcc: `make -j4` of mawk's sources (configured once) with
// CC="distcc gcc" against CC=immunix-cc IMMUNIX_CC="distcc gcc", both to the
// same distccd on 127.0.0.1. A third variant, "hand", is CC="distcc gcc"
// with the protection flags immunix-cc adds written by hand (handFlags): it
// separates what the protections cost the compiles from what immunix-cc,
// FormatGuard and the guard runtime add.
func BenchmarkDistcc(b *testing.B) {
	testenv.NeedsRoot(b)
	testenv.NeedsTool(b, "distccd")
	im := dt.InstallImage(b)
	d, err := dt.StartDistccd(2)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Stop()
	src := testenv.DebianSource(b, "mawk")
	if err := dt.EnsureBuildDeps(src); err != nil {
		b.Fatal(err)
	}
	base := dt.Setenv(dt.CleanEnv(), "DISTCC_HOSTS", d.Hosts())
	base = dt.Setenv(base, "DISTCC_FALLBACK", "0")
	base = dt.Setenv(base, "DISTCC_DIR", b.TempDir())
	if out, err := dt.Run(src, base, "./configure", "CC=gcc"); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	plainEnv := base
	immEnv := dt.Setenv(im.ToolEnv(base), "IMMUNIX_CC", "distcc gcc")
	compile, link := handFlags(b, im, dt.Setenv(im.ToolEnv(dt.CleanEnv()), "IMMUNIX_CC", "gcc"))
	b.Logf("by hand: compile %q, link %q", compile, link)
	// mawk's Makefile: CFLAGS = -g -O2 $(EXTRA_CFLAGS), LDFLAGS = -g -O2.
	hand := []string{"CC=distcc gcc", "EXTRA_CFLAGS=" + strings.Join(compile, " "), "LDFLAGS=-g -O2 " + strings.Join(link, " ")}
	build := func(env []string, makeArgs ...string) times {
		if out, err := dt.Run(src, env, "make", "clean"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		cmd := exec.Command("make", append(append([]string{"-j4"}, makeArgs...), "mawk")...)
		cmd.Dir, cmd.Env = src, env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("make %q: %v\n%s", makeArgs, err, out)
		}
		// CPU: the client side (make, preprocessing, immunix-cc, distcc);
		// the compiles themselves run in distccd.
		return times{time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	}
	build(immEnv, "CC=immunix-cc")
	if _, err := os.Stat(filepath.Join(src, "mawk")); err != nil {
		b.Fatal(err)
	}
	var plain, imm, byHand times
	variants := []func(){
		func() { plain.add(build(plainEnv, "CC=distcc gcc")) },
		func() { imm.add(build(immEnv, "CC=immunix-cc")) },
		func() { byHand.add(build(plainEnv, hand...)) },
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range variants {
			variants[(i+k)%len(variants)]()
		}
	}
	report(b, plain, imm)
	b.ReportMetric(byHand.wall.Seconds()/float64(b.N), "hand-s/op")
	b.ReportMetric(imm.wall.Seconds()/byHand.wall.Seconds(), "wall-ratio-vs-hand")
	b.ReportMetric(imm.cpu.Seconds()/byHand.cpu.Seconds(), "cpu-ratio-vs-hand")
}

// handFlags returns the protection flags immunix-cc adds to a compile and
// to a link of the same program (read from --immunix-explain), without what
// only immunix-cc brings: the FormatGuard headers, the build stamp and the
// guard runtime.
func handFlags(b *testing.B, im dt.Image, env []string) (compile, link []string) {
	explain := func(args ...string) []string {
		cmd := exec.Command(im.CC(), append([]string{"--immunix-explain", "-g", "-O2"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("immunix-cc --immunix-explain: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "command:"); ok {
				argv, err := shlex.Split(rest)
				if err != nil || len(argv) == 0 {
					b.Fatalf("explain's command line %q: %v", rest, err)
				}
				var flags []string
				user := map[string]bool{"-g": true, "-O2": true, "-c": true, "x.c": true, "x.o": true, "x": true, "-o": true}
				for i := 1; i < len(argv); i++ {
					a := argv[i]
					switch {
					case a == "-isystem" || a == "-idirafter" || a == "-include":
						i++ // the FormatGuard headers, the stamp header
					case strings.HasPrefix(a, "-D__IMMUNIX"), strings.HasPrefix(a, "-Wl,-u,__immunix"),
						strings.HasSuffix(a, ".a"), strings.HasSuffix(a, "note.o"), user[a]:
					default:
						flags = append(flags, a)
					}
				}
				return flags
			}
		}
		b.Fatalf("immunix-cc --immunix-explain printed no command:\n%s", out)
		return nil
	}
	return explain("-c", "x.c", "-o", "x.o"), explain("x.o", "-o", "x")
}
