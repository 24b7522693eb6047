package raceguard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

func TestMain(m *testing.M) {
	// A cache of our own, so the runtime under test is built from these
	// sources, never taken from an older cache or a system copy.
	dir, err := os.MkdirTemp("", "immunix-rg-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	os.Setenv("IMMUNIX_CACHE_DIR", dir)
	guardlib.SystemDir = filepath.Join(dir, "no-system-copies")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The ordinary users of the tests: uids with no passwd entry, which nothing
// here needs.
const (
	userUID  = 61001
	otherUID = 61002
)

// openDir returns a fresh directory every uid can traverse.
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(p) == os.TempDir() {
			break
		}
	}
	return d
}

// build compiles src into out: through immunix-cc over cc when immunix,
// else cc directly. extra go after the source (libraries).
func build(t *testing.T, cc string, immunix bool, src, out string, extra ...string) {
	t.Helper()
	testenv.NeedsTool(t, cc)
	comp := cc
	env := os.Environ()
	if immunix {
		comp = filepath.Join(testenv.Binaries(t), "immunix-cc")
		env = append(env, "IMMUNIX_CC="+cc, "IMMUNIX_CONFIG=/nonexistent/immunix.conf")
	}
	args := append([]string{"-O2", "-w", "-o", out, src}, extra...)
	cmd := exec.Command(comp, args...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", comp, strings.Join(args, " "), err, b)
	}
	os.Chmod(out, 0o755)
}

// victims builds testdata/victim.c plain and through immunix-cc, per
// compiler, into dir: returns exe[cc][immunix].
func victims(t *testing.T, dir string) map[string]map[bool]string {
	t.Helper()
	src, err := filepath.Abs("testdata/victim.c")
	if err != nil {
		t.Fatal(err)
	}
	exes := map[string]map[bool]string{}
	for _, cc := range testenv.Compilers() {
		exes[cc] = map[bool]string{}
		for _, imm := range []bool{false, true} {
			out := filepath.Join(dir, fmt.Sprintf("victim-%s-%v", cc, imm))
			build(t, cc, imm, src, out)
			exes[cc][imm] = out
		}
	}
	return exes
}

func cred(uid int) *syscall.SysProcAttr {
	if uid == 0 {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
}

// result is how a victim ended.
type result struct {
	code   int
	signal syscall.Signal
	stdout string
	stderr string
}

func (r result) String() string {
	e := r.stderr
	if len(e) > 600 {
		e = e[:600] + "..."
	}
	if r.signal != 0 {
		return fmt.Sprintf("killed by %v, stderr %q", r.signal, e)
	}
	return fmt.Sprintf("exit %d, stderr %q", r.code, e)
}

// runVictim runs exe with args as uid; when it reports "ready NAME" (its
// probe is done, its create not yet made), plant(NAME) runs, then the
// victim goes on. plant nil: it goes on at once.
func runVictim(t *testing.T, exe string, uid int, env []string, plant func(name string), args ...string) result {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = cred(uid)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(outp)
	line, err := rd.ReadString('\n')
	var stdout strings.Builder
	stdout.WriteString(line)
	if err == nil && strings.HasPrefix(line, "ready ") {
		if plant != nil {
			plant(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
		}
		in.Write([]byte("g"))
	}
	in.Close()
	rest, _ := io.ReadAll(rd)
	stdout.Write(rest)
	err = cmd.Wait()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.signal = ws.Signal()
		} else {
			r.code = ws.ExitStatus()
		}
	} else if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	return r
}

// asUser runs argv as uid and fails the test if it fails.
func asUser(t *testing.T, uid int, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = cred(uid)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid %d: %s: %v\n%s", uid, strings.Join(argv, " "), err, b)
	}
}

// sysctl sets /proc/sys/fs/NAME to v and restores the old value when the
// test ends.
func sysctl(t *testing.T, name, v string) {
	t.Helper()
	p := "/proc/sys/fs/" + name
	old, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		testenv.KernelLacks(t, "no "+p+": a kernel without that sysctl")
	case err != nil:
		t.Fatalf("read %s: %v", p, err)
	}
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		t.Fatalf("set %s=%s: %v", name, v, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(p, old, 0o644); err != nil {
			t.Errorf("restore %s: %v", name, err)
		}
	})
}

// alertList shows alerts briefly: how many, and the first.
type alertList []string

func (a alertList) String() string {
	if len(a) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d, the first %q", len(a), a[0])
}

// raceAlerts are the kind=raceguard lines among lines.
func raceAlerts(lines []string) alertList {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "immunix alert: kind=raceguard ") {
			out = append(out, l)
		}
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err != nil {
		return "<absent>"
	}
	return string(b)
}

// world makes the syslog sink writable by every test uid.
func world(t *testing.T, s *testenv.Syslog) {
	t.Helper()
	os.Chmod(filepath.Dir(s.Path), 0o777)
	os.Chmod(s.Path, 0o777)
}
