// Package cryptomark tests CryptoMark end to end: immunix keygen and sign,
// and immunix markd gating real execs through fanotify in the running
// kernel. Every gate marks only a tmpfs the test mounted itself, never a
// filesystem other programs use.
package cryptomark

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/testenv"
)

// immunix runs the immunix front end (which forwards keygen, sign and
// markd to immunix-tools) and returns its exit code and output.
func immunix(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix"), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("immunix %v: %v", args, err)
	}
	return 0, string(out)
}

// mountTmpfs mounts a fresh tmpfs for this test only and unmounts it at
// the end: the only filesystem a test gate may mark.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	testenv.NeedsRoot(t)
	testenv.NeedsFanotifyExecPerm(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		testenv.Missing(t, fmt.Sprintf("cannot mount a tmpfs for the gate to mark: %v", err))
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// keys makes a signing key and a directory trusting it.
type keys struct {
	Key, Dir string // private key file; trusted keys directory
}

func newKeys(t *testing.T) keys {
	t.Helper()
	d := t.TempDir()
	k := keys{Key: filepath.Join(d, "signing.key"), Dir: filepath.Join(d, "trusted")}
	if code, out := immunix(t, "keygen", k.Key); code != 0 {
		t.Fatalf("immunix keygen: exit %d: %s", code, out)
	}
	os.Mkdir(k.Dir, 0o755)
	data, err := os.ReadFile(k.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(k.Dir, "signing.pub"), data, 0o644)
	return k
}

func (k keys) sign(t *testing.T, files ...string) {
	t.Helper()
	if code, out := immunix(t, append([]string{"sign", "-q", "--key", k.Key}, files...)...); code != 0 {
		t.Fatalf("immunix sign: exit %d: %s", code, out)
	}
}

// program copies /bin/echo (a real dynamically linked ELF program) to
// path.
func program(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile("/bin/echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cryptomark.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// daemon is a running immunix markd --foreground.
type daemon struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	exited chan struct{}
}

// startMarkd starts the gate and returns once it said it is ready.
func startMarkd(t *testing.T, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix"), append([]string{"markd", "--foreground"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, stderr: &strings.Builder{}, exited: make(chan struct{})}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.kill() })
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "immunix markd: ready") {
			t.Fatalf("markd said %q before ready; stderr: %s", line, d.stderr)
		}
	case <-d.exited:
		t.Fatalf("markd exited before it was ready: %s", d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("markd not ready after 30s: %s", d.stderr)
	}
	return d
}

// kill sends SIGKILL and waits for the daemon to go.
func (d *daemon) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGCONT)
	d.cmd.Process.Kill()
	<-d.exited
}

// alive fails the test if the daemon has exited.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		t.Fatalf("markd died: %s", d.stderr)
	default:
	}
}

// run execs a program and returns its error (nil: it ran and exited 0).
func run(path string, args ...string) error {
	cmd := exec.Command(path, args...)
	cmd.Stdout = io.Discard
	return cmd.Run()
}

// wantEPERM fails unless execve of path failed with EPERM.
func wantEPERM(t *testing.T, path string) {
	t.Helper()
	err := run(path)
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("exec %s: %v, want EPERM from execve", path, err)
	}
}

// waitAlert waits (bounded) for a syslog line holding every want string;
// the gate sends alerts after answering, from its own goroutine.
func waitAlert(t *testing.T, s *testenv.Syslog, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		for _, l := range s.Take() {
			seen = append(seen, l)
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no alert with %q within 10s; got %q", want, seen)
	return ""
}

var timeZero = time.Unix(1, 0)
