// Package alerts tests `immunix alerts --follow` end to end: real programs
// attacked under immunix's guard runtime send their alerts to a syslog
// socket the test binds, a relay writes them to a syslog file as rsyslog
// does, and immunix alerts --follow, started before, prints them as they come.
package alerts

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

// relay binds a syslog datagram socket and appends every message to file as
// rsyslog's file output writes it: "Mmm dd hh:mm:ss HOST TAG[PID]: BODY".
type relay struct {
	Path string
	file string
	conn *net.UnixConn
	mu   sync.Mutex
	n    int
}

var priRE = regexp.MustCompile(`^<[0-9]+>`)

func newRelay(t *testing.T, file string) *relay {
	t.Helper()
	dir, err := os.MkdirTemp("", "syslog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &relay{Path: filepath.Join(dir, "log"), file: file}
	r.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: r.Path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := r.conn.Read(buf)
			if err != nil {
				return
			}
			msg := priRE.ReplaceAllString(strings.TrimRight(string(buf[:n]), "\n"), "")
			line := time.Now().Format(time.Stamp) + " testhost " + msg + "\n"
			r.mu.Lock()
			f, err := os.OpenFile(r.file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o640)
			if err == nil {
				f.WriteString(line)
				f.Close()
				r.n++
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { r.conn.Close(); <-done })
	return r
}

// follower is a running `immunix alerts --follow`.
type follower struct {
	cmd   *exec.Cmd
	lines chan string
}

func startFollow(t *testing.T, bin string, args ...string) *follower {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "immunix"), append([]string{"alerts", "--follow"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &follower{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return f
}

// next waits for the follower's next line; it fails the test after 20s.
func (f *follower) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			t.Fatalf("immunix alerts --follow ended")
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("no line from immunix alerts --follow after 20s")
	}
	return ""
}

// stop interrupts the follower, which must exit 0.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	f.cmd.Process.Signal(syscall.SIGTERM)
	for range f.lines {
	}
	if err := f.cmd.Wait(); err != nil {
		t.Errorf("immunix alerts --follow after SIGTERM: %v (want exit 0)", err)
	}
}

const vuln = `#include <stdio.h>
#include <string.h>
static void copy(const char *s)
{
	char buf[16];
	strcpy(buf, s);
	puts(buf);
}
int main(int argc, char **argv)
{
	if (argc > 2)
		printf(argv[2]);
	copy(argv[1]);
	return 0;
}
`

// attack builds vuln.c through immunix-cc and smashes its stack with
// IMMUNIX_SYSLOG_SOCKET pointing at the relay: the guard runtime's alert
// goes through the socket.
func attack(t *testing.T, bin, dir, sock, name string) {
	t.Helper()
	exe := filepath.Join(dir, name)
	src := filepath.Join(dir, "vuln.c")
	if err := os.WriteFile(src, []byte(vuln), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := exec.Command(filepath.Join(bin, "immunix-cc"), "-O0", "-Wno-format-security", "-o", exe, src)
	cc.Env = append(os.Environ(), "IMMUNIX_CACHE_DIR="+filepath.Join(dir, "cache"), "IMMUNIX_CONFIG=/nonexistent")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("immunix-cc: %v\n%s", err, out)
	}
	run := exec.Command(exe, strings.Repeat("A", 200))
	run.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sock)
	if err := run.Run(); err == nil {
		t.Fatalf("%s survived a 200-byte strcpy into 16 bytes", exe)
	}
}

func TestFollowSyslogFile(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	bin := testenv.Binaries(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	// Alerts already in the file before --follow starts are not printed
	// (tail -F), nor lines that are not alerts.
	old := "Dec  1 10:00:00 testhost immunix[7]: immunix alert: kind=stackguard exe=/old pid=7 uid=0 msg=old alert\nDec  1 10:00:01 testhost sshd[8]: Accepted publickey\n"
	if err := os.WriteFile(log, []byte(old), 0o640); err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, log)

	text := startFollow(t, bin, log)
	js := startFollow(t, bin, "--format", "json", "--kind", "stackguard", log)
	onlyFG := startFollow(t, bin, "--kind", "subdomain", log)
	since := startFollow(t, bin, "--since", "2000-01-01", "--format", "json", log)

	// The followers open the file before the attack: wait until each has
	// (its /proc fd table names the log), so "from the end" is deterministic.
	for _, f := range []*follower{text, js, onlyFG, since} {
		waitOpen(t, f.cmd.Process.Pid, log)
	}

	attack(t, bin, dir, r.Path, "victim")

	l := text.next(t)
	if !strings.Contains(l, " stackguard "+filepath.Join(dir, "victim")+"[") {
		t.Errorf("text line %q: want the victim's stackguard alert", l)
	}
	var a struct {
		Kind, Exe, Msg, Source string
		PID                    int
		Time                   time.Time
	}
	if err := json.Unmarshal([]byte(js.next(t)), &a); err != nil || a.Kind != "stackguard" || a.Exe != filepath.Join(dir, "victim") || a.PID == 0 || a.Time.IsZero() || a.Source != log {
		t.Errorf("json line: %+v %v", a, err)
	}
	// --since from the start: the old alert first, then the new one.
	if err := json.Unmarshal([]byte(since.next(t)), &a); err != nil || a.Exe != "/old" {
		t.Errorf("--since: first line %+v %v, want the old alert", a, err)
	}
	if err := json.Unmarshal([]byte(since.next(t)), &a); err != nil || a.Exe != filepath.Join(dir, "victim") {
		t.Errorf("--since: second line %+v %v, want the victim", a, err)
	}

	// Rotation, as logrotate does it: the file is renamed and a new one
	// created; the next alert lands in the new file.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	attack(t, bin, dir, r.Path, "victim2")
	if l := text.next(t); !strings.Contains(l, filepath.Join(dir, "victim2")+"[") {
		t.Errorf("after rotation: %q, want victim2's alert", l)
	}
	// A subdomain alert written to the file: only the --kind subdomain
	// follower had nothing so far; now it prints this one.
	fmt.Fprintf(openAppend(t, log), "%s testhost immunix[9]: immunix alert: kind=subdomain exe=/srv/cgi pid=9 uid=33 op=exec path=/bin/sh mode=enforce msg=denied\n", time.Now().Format(time.Stamp))
	if l := onlyFG.next(t); !strings.Contains(l, "subdomain /srv/cgi[9]") || !strings.Contains(l, "path=/bin/sh") {
		t.Errorf("--kind subdomain: %q", l)
	}
	if l := text.next(t); !strings.Contains(l, "subdomain /srv/cgi[9]") {
		t.Errorf("text after the subdomain alert: %q", l)
	}
	for _, f := range []*follower{text, js, onlyFG, since} {
		f.stop(t)
	}
}

// TestFollowBadInput: one clear line and a non-zero exit, no hang.
func TestFollowBadInput(t *testing.T) {
	bin := testenv.Binaries(t)
	for _, args := range [][]string{
		{"alerts", "--follow", "-"},
		{"alerts", "--follow", "--format", "xml", "/dev/null"},
		{"alerts", "--follow", "x.gz"},
		{"alerts", "--follow", "--journal", "/dev/null"},
	} {
		out, err := exec.Command(filepath.Join(bin, "immunix"), args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("immunix %v: %v\n%s", args, err, out)
		}
	}
}

func openAppend(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// waitOpen waits until process pid has path open (immunix execs
// immunix-tools, which keeps the pid).
func waitOpen(t *testing.T, pid int, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && target == path {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("immunix alerts --follow (pid %d) did not open %s in 20s", pid, path)
}
