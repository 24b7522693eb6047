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
	"testing"
	"time"

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
// same distccd on 127.0.0.1.
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
	build := func(env []string, cc string) times {
		if out, err := dt.Run(src, env, "make", "clean"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		cmd := exec.Command("make", "-j4", "CC="+cc, "mawk")
		cmd.Dir, cmd.Env = src, env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("make CC=%s: %v\n%s", cc, err, out)
		}
		// CPU: the client side (make, preprocessing, immunix-cc, distcc);
		// the compiles themselves run in distccd.
		return times{time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	}
	build(immEnv, "immunix-cc")
	if _, err := os.Stat(filepath.Join(src, "mawk")); err != nil {
		b.Fatal(err)
	}
	var plain, imm times
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			plain.add(build(plainEnv, "distcc gcc"))
			imm.add(build(immEnv, "immunix-cc"))
		} else {
			imm.add(build(immEnv, "immunix-cc"))
			plain.add(build(plainEnv, "distcc gcc"))
		}
	}
	report(b, plain, imm)
}
