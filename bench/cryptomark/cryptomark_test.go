// Package cryptomark measures CryptoMark: hashing, signing and
// verification throughput per core, fork+exec+wait of a small signed
// program with the gate (immunix markd) on and off, the gate's memory,
// and a Debian package build (ed, the smallest of make test-rebuild)
// under the enforcing gate against the same build without it. Figures
// are in BENCHMARKS.md with their commands.
//
//	go test -run XXX -bench . -benchtime 4x ./bench/cryptomark
//
// The gate benchmarks need root; they mark only a tmpfs they mount.
package cryptomark

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/testenv"
	dt "github.com/immunix/immunix/tests/distro"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dt.RemoveImage() // the image BenchmarkPackageBuild installed
	os.Exit(code)
}

// cpuTime is this process's user+system time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds MB per CPU-second: the per-core throughput whatever
// else the machine runs.
func reportCPU(b *testing.B, bytes int64, cpu time.Duration) {
	b.ReportMetric(float64(bytes)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkHash: the hashes the standard library offers, one core.
func BenchmarkHash(b *testing.B) {
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"sha256", sha256.New}, {"sha512", sha512.New}} {
		b.Run(h.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			c0 := cpuTime()
			for b.Loop() {
				x := h.new()
				x.Write(buf)
				x.Sum(nil)
			}
			reportCPU(b, int64(len(buf))*int64(b.N), cpuTime()-c0)
		})
	}
}

// bigELF writes an ELF-headed file of n random bytes.
func bigELF(b *testing.B, dir string, n int) string {
	data := make([]byte, n)
	rand.Read(data)
	copy(data, "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00")
	p := filepath.Join(dir, "big")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		b.Fatal(err)
	}
	return p
}

func key(b *testing.B, dir string) (*cryptomark.PrivateKey, *cryptomark.Keyring) {
	k, err := cryptomark.GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		b.Fatal(err)
	}
	pub, err := cryptomark.LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		b.Fatal(err)
	}
	return k, cryptomark.NewKeyring(pub)
}

// BenchmarkSign: signing a 64 MiB file (re-signing replaces the trailer,
// so each iteration hashes the same 64 MiB), page cache warm.
func BenchmarkSign(b *testing.B) {
	dir := b.TempDir()
	k, _ := key(b, dir)
	p := bigELF(b, dir, 64<<20)
	b.SetBytes(64 << 20)
	c0 := cpuTime()
	for b.Loop() {
		if _, err := cryptomark.SignFile(p, k); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, int64(64<<20)*int64(b.N), cpuTime()-c0)
}

// BenchmarkVerify: verifying a signed 64 MiB file with no cached
// verdict: "warm" reads it from the page cache (the CPU cost), "cold"
// drops its pages first (posix_fadvise DONTNEED) and reads it from disk.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	k, ring := key(b, dir)
	p := bigELF(b, dir, 64<<20)
	if _, err := cryptomark.SignFile(p, k); err != nil {
		b.Fatal(err)
	}
	for _, cold := range []bool{false, true} {
		name := map[bool]string{false: "warm", true: "cold"}[cold]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(64 << 20)
			var cpu time.Duration
			for b.Loop() {
				if cold {
					b.StopTimer()
					f, _ := os.Open(p)
					unix.Fdatasync(int(f.Fd()))
					unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
					f.Close()
					b.StartTimer()
				}
				c0 := cpuTime()
				if v := cryptomark.VerifyFile(p, ring); !v.OK() {
					b.Fatal(v.Err)
				}
				cpu += cpuTime() - c0
			}
			reportCPU(b, int64(64<<20)*int64(b.N), cpu)
		})
	}
}

// gate is a running immunix markd.
type gate struct {
	cmd *exec.Cmd
}

func startGate(b *testing.B, mnt, keys, policy string, extra ...string) *gate {
	b.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(b), "immunix"), append([]string{"markd", "--foreground", "--mark", mnt,
		"--policy", policy, "--keys", keys, "--syslog-socket", "/dev/null"}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "immunix markd: ready") {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("markd: %q", line)
	}
	go io.Copy(io.Discard, out)
	return &gate{cmd: cmd}
}

// cpu is the daemon's user+system time so far.
func (g *gate) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

// hwm is the daemon's peak resident memory in KiB.
func (g *gate) hwm() float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return n
		}
	}
	return 0
}

func (g *gate) stop() {
	g.cmd.Process.Kill()
	g.cmd.Wait()
}

func mountTmpfs(b *testing.B, size string) string {
	b.Helper()
	testenv.NeedsRoot(b)
	dir := b.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		b.Skipf("mount tmpfs: %v", err)
	}
	b.Cleanup(func() {
		if unix.Unmount(dir, 0) != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

func keysDir(b *testing.B) (string, string) {
	d := b.TempDir()
	if _, err := cryptomark.GenerateKey(filepath.Join(d, "k")); err != nil {
		b.Fatal(err)
	}
	os.Mkdir(filepath.Join(d, "keys"), 0o755)
	data, _ := os.ReadFile(filepath.Join(d, "k.pub"))
	os.WriteFile(filepath.Join(d, "keys", "k.pub"), data, 0o644)
	return filepath.Join(d, "k"), filepath.Join(d, "keys")
}

// forkExecWait runs prog n times (raw fork+exec+wait, no os/exec
// overhead) and returns the wall time and the children's CPU time.
func forkExecWait(b *testing.B, prog string, n int) (time.Duration, time.Duration) {
	var ru0, ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &ru0)
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	attr := &syscall.ProcAttr{Files: []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()}}
	start := time.Now()
	for range n {
		pid, err := syscall.ForkExec(prog, []string{prog}, attr)
		if err != nil {
			b.Fatalf("exec %s: %v", prog, err)
		}
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		if ws.ExitStatus() != 0 {
			b.Fatalf("%s exited %d", prog, ws.ExitStatus())
		}
	}
	wall := time.Since(start)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &ru1)
	return wall, time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
}

// BenchmarkExec: fork+exec+wait of a small signed program from a tmpfs,
// warm cache, with no gate and with the gate enforcing require-signed
// there (the verdict cached after the first exec). "static" is a static
// C program that returns 0, where the gate's share is largest; "dynamic"
// is /bin/true, a typical dynamically linked program. Rounds alternate
// off and on; CPU counts the children and, gate on, the daemon.
func BenchmarkExec(b *testing.B) {
	testenv.NeedsTool(b, "gcc")
	mnt := mountTmpfs(b, "64m")
	keyFile, keys := keysDir(b)
	k, err := cryptomark.LoadPrivateKey(keyFile)
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(b.TempDir(), "nop.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	static := filepath.Join(mnt, "static")
	if out, err := exec.Command("gcc", "-O2", "-static", "-o", static, src).CombinedOutput(); err != nil {
		b.Skipf("gcc -static: %v %s", err, out)
	}
	dynamic := filepath.Join(mnt, "dynamic")
	data, _ := os.ReadFile("/bin/true")
	os.WriteFile(dynamic, data, 0o755)
	for _, p := range []string{static, dynamic} {
		if _, err := cryptomark.SignFile(p, k); err != nil {
			b.Fatal(err)
		}
	}
	policy := filepath.Join(b.TempDir(), "policy")
	os.WriteFile(policy, []byte("/ require-signed\n"), 0o644)
	// The gate caches nothing about a file changed in the last second
	// (cryptomark/gate): a warm cache needs settled files.
	time.Sleep(1100 * time.Millisecond)
	for _, prog := range []string{static, dynamic} {
		b.Run(filepath.Base(prog), func(b *testing.B) {
			const rounds = 6
			per := 1000
			var offWall, onWall, offCPU, onCPU time.Duration
			var hwm float64
			for r := range rounds {
				for _, on := range []bool{r%2 == 0, r%2 != 0} {
					if !on {
						w, c := forkExecWait(b, prog, per)
						offWall += w
						offCPU += c
						continue
					}
					g := startGate(b, mnt, keys, policy)
					forkExecWait(b, prog, 1) // the first exec verifies; the rest hit the cache
					d0 := g.cpu()
					w, c := forkExecWait(b, prog, per)
					onWall += w
					onCPU += c + g.cpu() - d0
					hwm = max(hwm, g.hwm())
					g.stop()
				}
			}
			n := float64(rounds * per)
			b.ReportMetric(float64(offWall.Microseconds())/n, "off-us/exec")
			b.ReportMetric(float64(onWall.Microseconds())/n, "on-us/exec")
			b.ReportMetric(onWall.Seconds()/offWall.Seconds(), "wall-ratio")
			b.ReportMetric(onCPU.Seconds()/offCPU.Seconds(), "cpu-ratio")
			b.ReportMetric(hwm, "markd-hwm-KiB")
		})
	}
}

// BenchmarkGateMemory: the daemon's peak memory after it verified 2000
// distinct signed programs (a full verdict cache is bounded: 16384
// entries) and one 256 MiB program.
func BenchmarkGateMemory(b *testing.B) {
	mnt := mountTmpfs(b, "512m")
	keyFile, keys := keysDir(b)
	k, _ := cryptomark.LoadPrivateKey(keyFile)
	data, _ := os.ReadFile("/bin/true")
	var progs []string
	for i := range 2000 {
		p := filepath.Join(mnt, fmt.Sprintf("p%d", i))
		os.WriteFile(p, data, 0o755)
		cryptomark.SignFile(p, k)
		progs = append(progs, p)
	}
	big := bigELF(b, mnt, 256<<20)
	cryptomark.SignFile(big, k)
	policy := filepath.Join(b.TempDir(), "policy")
	os.WriteFile(policy, []byte("/ require-signed\n"), 0o644)
	for b.Loop() {
		g := startGate(b, mnt, keys, policy)
		start := g.hwm()
		for _, p := range progs {
			forkExecWait(b, p, 1)
		}
		exec.Command(big).Run() // verified (and allowed), then fails to load: random bytes
		b.ReportMetric(start, "start-hwm-KiB")
		b.ReportMetric(g.hwm(), "hwm-KiB")
		g.stop()
	}
}

// BenchmarkPackageBuild: dpkg-buildpackage of ed (the smallest package
// of make test-rebuild) through immunix in masquerade mode with
// IMMUNIX_SIGN_KEY, its source tree on a tmpfs gated require-signed,
// against the same build with no gate. configure's test programs and ed
// itself (run by its test suite) are signed by immunix-cc as linked, so
// they run; scripts run as the gate allows them. Alternating order. CPU
// is dpkg-buildpackage's with all its descendants, plus the daemon's.
func BenchmarkPackageBuild(b *testing.B) {
	testenv.NeedsRoot(b)
	im := dt.InstallImage(b)
	pkg, _ := dt.PackageByName("ed")
	src := testenv.DebianSource(b, pkg.Name)
	if err := dt.EnsureBuildDeps(src); err != nil {
		b.Fatal(err)
	}
	mnt := mountTmpfs(b, "1g")
	keyFile, keys := keysDir(b)
	env := dt.DebianBuildEnv(im.Env(dt.CleanEnv()))
	env = append(env, "IMMUNIX_SIGN_KEY="+keyFile)
	policy := filepath.Join(b.TempDir(), "policy")
	os.WriteFile(policy, []byte(mnt+" require-signed\n"), 0o644)
	build := func(gated bool, i int) (time.Duration, time.Duration) {
		dir := filepath.Join(mnt, fmt.Sprintf("b%d-%v", i, gated))
		os.MkdirAll(dir, 0o755)
		if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		var g *gate
		var d0 time.Duration
		if gated {
			g = startGate(b, mnt, keys, policy)
			defer g.stop()
			d0 = g.cpu()
		}
		res, err := dt.DpkgBuild(filepath.Join(dir, filepath.Base(src)), env, "")
		if err != nil {
			b.Fatal(err)
		}
		if g != nil {
			res.CPU += g.cpu() - d0 // the daemon's share
		}
		if r, err := pkg.Results(res.Log); err != nil || r.Failed > 0 {
			b.Fatalf("ed's tests: %v %v", r, err)
		}
		os.RemoveAll(dir)
		return res.Elapsed, res.CPU
	}
	var offWall, onWall, offCPU, onCPU time.Duration
	i := 0
	for b.Loop() {
		for _, gated := range []bool{i%2 == 0, i%2 != 0} {
			w, c := build(gated, i)
			if gated {
				onWall, onCPU = onWall+w, onCPU+c
			} else {
				offWall, offCPU = offWall+w, offCPU+c
			}
		}
		i++
	}
	b.ReportMetric(offWall.Seconds()/float64(i), "off-s/op")
	b.ReportMetric(onWall.Seconds()/float64(i), "on-s/op")
	b.ReportMetric(onWall.Seconds()/offWall.Seconds(), "wall-ratio")
	b.ReportMetric(onCPU.Seconds()/offCPU.Seconds(), "cpu-ratio")
}

// BenchmarkLibraries: what --libraries (FAN_OPEN_PERM on every open)
// costs against the exec-only gate: an open+close loop of a data file on
// the gated tmpfs (no gate / exec-only / --libraries), and fork+exec+wait
// of a signed program whose signed library lives there (exec-only /
// --libraries). CPU counts this process, its children and the daemon.
func BenchmarkLibraries(b *testing.B) {
	testenv.NeedsTool(b, "gcc")
	mnt := mountTmpfs(b, "64m")
	keyFile, keys := keysDir(b)
	k, _ := cryptomark.LoadPrivateKey(keyFile)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "l.c"), []byte("int f(int x) { return x + 1; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.c"), []byte("int f(int);\nint main(void) { return f(-1); }\n"), 0o644)
	lib := filepath.Join(mnt, "libf.so")
	prog := filepath.Join(mnt, "prog")
	for _, args := range [][]string{{"-shared", "-fPIC", "-o", lib, filepath.Join(dir, "l.c")},
		{"-o", prog, filepath.Join(dir, "p.c"), lib, "-Wl,-rpath," + mnt}} {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			b.Fatalf("gcc: %v %s", err, out)
		}
	}
	cryptomark.SignFile(lib, k)
	cryptomark.SignFile(prog, k)
	data := filepath.Join(mnt, "data.txt")
	os.WriteFile(data, []byte("data\n"), 0o644)
	policy := filepath.Join(b.TempDir(), "policy")
	os.WriteFile(policy, []byte("/ require-signed\n"), 0o644)
	const opens, execs = 20000, 1000
	openLoop := func() {
		for range opens {
			fd, err := unix.Open(data, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	}
	measure := func(g *gate, f func()) time.Duration {
		var d0 time.Duration
		if g != nil {
			d0 = g.cpu()
		}
		var ru0, ru1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_CHILDREN, &ru0)
		c0 := cpuTime()
		f()
		unix.Getrusage(unix.RUSAGE_CHILDREN, &ru1)
		c := cpuTime() - c0 + time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano())
		if g != nil {
			c += g.cpu() - d0
		}
		return c
	}
	var openOff, openExec, openLib, execExec, execLib time.Duration
	for b.Loop() {
		openOff += measure(nil, openLoop)
		for _, libs := range []bool{false, true} {
			var extra []string
			if libs {
				extra = []string{"--libraries"}
			}
			g := startGate(b, mnt, keys, policy, extra...)
			forkExecWait(b, prog, 1)
			o := measure(g, openLoop)
			e := measure(g, func() { forkExecWait(b, prog, execs) })
			g.stop()
			if libs {
				openLib, execLib = openLib+o, execLib+e
			} else {
				openExec, execExec = openExec+o, execExec+e
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(openOff.Nanoseconds())/n/opens, "open-off-cpu-ns")
	b.ReportMetric(float64(openExec.Nanoseconds())/n/opens, "open-execgate-cpu-ns")
	b.ReportMetric(float64(openLib.Nanoseconds())/n/opens, "open-libgate-cpu-ns")
	b.ReportMetric(execLib.Seconds()/execExec.Seconds(), "exec-lib/exec-only-cpu")
}
