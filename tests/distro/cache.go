package distro

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CCacheCheck is the ccache compiler_check for CC="ccache immunix-cc" (and
// for ccache's masquerade directory in front of immunix's): ccache then
// hashes immunix-cc's own account of what it would do (the real compiler it
// found and its version, the protections, the build stamp with immunix's
// version) next to the real compiler's -v, so a change of immunix version or
// policy, or of the compiler behind it, is a cache miss. ccache's default
// (the mtime of immunix-cc) sees none of them but an immunix upgrade.
const CCacheCheck = "%compiler% -v;%compiler% --immunix-explain -c immunix-ccache-key.c"

// ParseCCacheStats reads `ccache --print-stats` output: one "key<TAB>value"
// line per counter. Lines that are not that are skipped.
func ParseCCacheStats(out string) map[string]int64 {
	m := map[string]int64{}
	for _, l := range lines(out) {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		m[k] = n
	}
	return m
}

// CCacheCounts are the counters the cache tests look at.
type CCacheCounts struct {
	Hits, Misses int64
}

// CCacheHitsMisses returns the hits (direct and preprocessed) and misses
// of ccache's statistics.
func CCacheHitsMisses(stats map[string]int64) CCacheCounts {
	return CCacheCounts{
		Hits:   stats["direct_cache_hit"] + stats["preprocessed_cache_hit"],
		Misses: stats["cache_miss"],
	}
}

// ReadCCacheStats runs `ccache --print-stats` under env.
func ReadCCacheStats(env []string) (CCacheCounts, error) {
	cmd := exec.Command("ccache", "--print-stats")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return CCacheCounts{}, fmt.Errorf("ccache --print-stats: %w\n%s", err, out)
	}
	return CCacheHitsMisses(ParseCCacheStats(string(out))), nil
}

// DistccJob is one job distccd reports in its log (dcc_job_summary).
type DistccJob struct {
	Client string // address:port
	Status string // COMPILE_OK, COMPILE_ERROR, ...
	Source string // the input file
}

var distccSummary = regexp.MustCompile(`\(dcc_job_summary\) client: (\S+) (\S+) .*? time:\d+ms (.*)$`)

// ParseDistccdLog returns the jobs of a distccd log (--log-level info):
//
//	distccd[28780] (dcc_job_summary) client: 127.0.0.1:55202 COMPILE_OK exit:0 sig:0 core:0 ret:0 time:378ms /usr/bin/gcc main.c
func ParseDistccdLog(log string) []DistccJob {
	var jobs []DistccJob
	for _, l := range lines(log) {
		m := distccSummary.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		words := strings.Fields(m[3])
		src := ""
		if len(words) > 0 {
			src = words[len(words)-1]
		}
		jobs = append(jobs, DistccJob{Client: m[1], Status: m[2], Source: src})
	}
	return jobs
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Distccd is a distccd this process started on loopback.
type Distccd struct {
	Port    int
	LogFile string
	dir     string
	cmd     *exec.Cmd
}

// StartDistccd starts `distccd --no-detach` on 127.0.0.1 (a free port,
// --allow 127.0.0.1) logging at info level into a new directory of its own,
// and waits until it accepts connections. Stop it with Stop.
func StartDistccd(jobs int) (*Distccd, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// distccd drops root for an unprivileged user, which must be able to
	// reach and write the log.
	dir, err := os.MkdirTemp("", "immunix-distccd-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	d := &Distccd{Port: port, LogFile: filepath.Join(dir, "distccd.log"), dir: dir}
	if err := os.WriteFile(d.LogFile, nil, 0o666); err != nil {
		return nil, err
	}
	if err := os.Chmod(d.LogFile, 0o666); err != nil {
		return nil, err
	}
	d.cmd = exec.Command("distccd", "--daemon", "--no-detach", "--listen", "127.0.0.1",
		"--port", strconv.Itoa(port), "--allow", "127.0.0.1", "--jobs", strconv.Itoa(jobs),
		"--log-file", d.LogFile, "--log-level", "info")
	d.cmd.Env = CleanEnv()
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start distccd: %w", err)
	}
	// Ready when the log says so (a test connection would count as a job).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if strings.Contains(d.Log(), "preforking daemon started") {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("distccd on 127.0.0.1:%d did not start in 10s:\n%s", port, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Hosts is the DISTCC_HOSTS value that sends every compile to this daemon
// (over TCP: "localhost" would make distcc compile locally).
func (d *Distccd) Hosts() string { return fmt.Sprintf("127.0.0.1:%d/4", d.Port) }

// Log returns the daemon's log so far.
func (d *Distccd) Log() string {
	b, _ := os.ReadFile(d.LogFile)
	return string(b)
}

// Stop kills the daemon and the children it preforked (its own process
// group, which StartDistccd made) and waits for it.
func (d *Distccd) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	d.cmd.Wait()
	os.RemoveAll(d.dir)
}

// CopyTree copies the regular files of src into a new directory dst.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

// BuildVersionedCC builds immunix-cc from a copy of the module at
// moduleRoot with internal/version.Version set to version, into out: an
// immunix upgrade, for the tests that prove caches do not serve objects
// built by another immunix.
func BuildVersionedCC(moduleRoot, version, out string) error {
	tmp, err := os.MkdirTemp("", "immunix-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o, err := Run(moduleRoot, CleanEnv(), "sh", "-c", `git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1"`, "sh", tmp); err != nil {
		return fmt.Errorf("copy module: %w\n%s", err, o)
	}
	vfile := filepath.Join(tmp, "internal", "version", "version.go")
	src, err := os.ReadFile(vfile)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`const Version = "[^"]*"`)
	if !re.Match(src) {
		return fmt.Errorf("%s has no const Version", vfile)
	}
	if err := os.WriteFile(vfile, re.ReplaceAll(src, []byte(`const Version = "`+version+`"`)), 0o644); err != nil {
		return err
	}
	if o, err := Run(tmp, CleanEnv(), "go", "build", "-o", out, "./cmd/immunix-cc"); err != nil {
		return fmt.Errorf("build immunix-cc %s: %w\n%s", version, err, o)
	}
	return nil
}
