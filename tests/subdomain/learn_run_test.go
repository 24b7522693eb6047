package subdomain_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
)

// confined runs argv under its profile and checks it ran as it did
// unconfined: same exit code, no denial alerted.
func confined(t *testing.T, dir, profile string, sink *syslogSink, argv ...string) result {
	t.Helper()
	r := run(t, dir, sink, "", append([]string{"run", "--profile", profile, "--"}, argv...)...)
	if alerts := sink.Alerts(t); len(alerts) != 0 {
		t.Errorf("%d denials confining %v with its own learned profile; first: %s\nstderr:\n%s", len(alerts), argv, alerts[0].Body(), r.stderr)
	}
	return r
}

func TestCoreutilsSort(t *testing.T) {
	needsEnforcement(t)
	dir := workspace(t)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("pear\napple\nfig\n"), 0o644)
	prof, p := learnProfile(t, dir, "sort.sd", "/usr/bin/sort", "-o", "out.txt", "in.txt")
	t.Logf("sort: %s", p.Count())
	if c := p.Count(); c.Files > 20 {
		t.Errorf("profile of sort has %d file rules; want a short one", c.Files)
	}
	os.Remove(filepath.Join(dir, "out.txt"))
	sink := newSyslog(t)
	r := confined(t, dir, prof, sink, "/usr/bin/sort", "-o", "out.txt", "in.txt")
	if r.code != 0 {
		t.Fatalf("confined sort: exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); string(got) != "apple\nfig\npear\n" {
		t.Errorf("sorted = %q", got)
	}
	// Outside the profile: reading /etc/passwd is denied and alerted.
	r = run(t, dir, sink, "", "run", "--profile", prof, "--", "/usr/bin/sort", "/etc/passwd")
	if r.code == 0 {
		t.Fatalf("sort /etc/passwd succeeded under the profile")
	}
	alerts := sink.Alerts(t)
	if !hasAlert(alerts, "read", "/etc/passwd") {
		t.Errorf("no alert for reading /etc/passwd; got %v", bodies(alerts))
	}
}

func TestPython(t *testing.T) {
	needsEnforcement(t)
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, "python3 is not installed (Debian package python3)")
	}
	dir := workspace(t)
	script := `import json, sys, hashlib; print(json.dumps({"args": sorted(sys.argv[1:]), "sha": hashlib.sha256(b"x").hexdigest()[:8]}))`
	prof, p := learnProfile(t, dir, "py.sd", py, "-c", script, "b", "a")
	t.Logf("python3 -c: %s", p.Count())
	if c := p.Count(); c.Files > 60 {
		t.Errorf("profile of python3 -c has %d file rules; want a short one", c.Files)
	}
	sink := newSyslog(t)
	r := confined(t, dir, prof, sink, py, "-c", script, "b", "a")
	want := `{"args": ["a", "b"], "sha": "2d711642"}` + "\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("confined python: exit %d, stdout %q, want %q\n%s", r.code, r.stdout, want, r.stderr)
	}
	// A dangerous system call the profile does not grant: refused by the
	// seccomp filter (EPERM), alerted from its audit record.
	fifo := filepath.Join(dir, "fifo")
	r = run(t, dir, sink, "", "run", "--profile", prof, "--", py, "-c",
		"import os, sys\ntry:\n os.mknod(sys.argv[1], 0o600 | 0o010000)\nexcept OSError as e:\n print(e.errno)", fifo)
	if r.stdout != "1\n" {
		t.Errorf("mknod under the profile: stdout %q (want errno 1, EPERM)\n%s", r.stdout, r.stderr)
	}
	if alerts := sink.Alerts(t); !hasAlert(alerts, "syscall", "mknodat") {
		t.Errorf("no alert for mknodat; got %v", bodies(alerts))
	}
}

const serverC = `
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* server PORT DOCROOT N: serves N requests "GET name" with DOCROOT/name. */
int main(int argc, char **argv) {
	if (argc != 4) return 2;
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) { perror("bind"); return 1; }
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < atoi(argv[3]); i++) {
		int c = accept(s, 0, 0);
		char req[256] = {0}, path[512], buf[512];
		ssize_t n = read(c, req, sizeof req - 1);
		if (n > 0 && strncmp(req, "GET ", 4) == 0) {
			req[strcspn(req, "\r\n")] = 0;
			snprintf(path, sizeof path, "%s/%s", argv[2], req + 4);
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				dprintf(c, "404\n");
			} else {
				while ((n = read(fd, buf, sizeof buf)) > 0) write(c, buf, n);
				close(fd);
			}
		}
		close(c);
	}
	return 0;
}
`

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve starts immunix ARGS (the server), waits for "ready", sends the
// requests and returns the replies and the exit code.
func serve(t *testing.T, dir string, sink *syslogSink, port int, reqs []string, args ...string) ([]string, int, string) {
	t.Helper()
	cmd := exec.Command(immunix(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), alert.SocketEnv+"="+sink.Path)
	out, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("server did not start: %q %v\n%s", line, err, stderr.String())
	}
	var replies []string
	for _, r := range reqs {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s\n", r)
		b, _ := io.ReadAll(c)
		c.Close()
		replies = append(replies, string(b))
	}
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return replies, code, stderr.String()
}

func TestCServer(t *testing.T) {
	needsEnforcement(t)
	testenv.NeedsTool(t, "gcc")
	dir := workspace(t)
	exe := filepath.Join(dir, "server")
	built := cbuild.Build(t, "gcc", serverC, "-O2", "-Wall", "-Wextra")
	data, _ := os.ReadFile(built)
	os.WriteFile(exe, data, 0o755)
	docroot := filepath.Join(dir, "docroot")
	os.Mkdir(docroot, 0o755)
	os.WriteFile(filepath.Join(docroot, "index.html"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "private.key"), []byte("KEY\n"), 0o600)
	port := freePort(t)
	sink := newSyslog(t)
	prof := filepath.Join(dir, "server.sd")
	reqs := []string{"index.html", "nothere"}
	replies, code, stderr := serve(t, dir, sink, port, reqs, "learn", "-o", prof, "--", exe, strconv.Itoa(port), docroot, "2")
	if code != 0 || replies[0] != "hello\n" || replies[1] != "404\n" {
		t.Fatalf("learning run: exit %d, replies %q\n%s", code, replies, stderr)
	}
	p := readProfile(t, prof)
	t.Logf("C server: %s", p.Count())
	if !p.AllowsNet("tcp", "bind", uint16(port)) {
		t.Errorf("profile lacks the bind on port %d", port)
	}
	// Confined: the same workload, no denial.
	replies, code, stderr = serve(t, dir, sink, port, reqs, "run", "--profile", prof, "--", exe, strconv.Itoa(port), docroot, "2")
	if code != 0 || replies[0] != "hello\n" || replies[1] != "404\n" {
		t.Fatalf("confined run: exit %d, replies %q\n%s", code, replies, stderr)
	}
	if alerts := sink.Alerts(t); len(alerts) != 0 {
		t.Fatalf("denials confining the server with its own profile: %v", bodies(alerts))
	}
	// A path traversal to the key is refused by Landlock and alerted.
	replies, _, _ = serve(t, dir, sink, port, []string{"../private.key"}, "run", "--profile", prof, "--", exe, strconv.Itoa(port), docroot, "1")
	if replies[0] != "404\n" {
		t.Errorf("traversal reply = %q, want 404 (denied)", replies[0])
	}
	if alerts := sink.Alerts(t); !hasAlert(alerts, "read", filepath.Join(dir, "private.key")) {
		t.Errorf("no alert for the key; got %v", bodies(alerts))
	}
	// Another port than the learned one is refused (Landlock ABI >= 4).
	other := freePort(t)
	r := run(t, dir, sink, "", "run", "--profile", prof, "--", exe, strconv.Itoa(other), docroot, "1")
	if r.code == 0 || !strings.Contains(r.stderr, "bind") {
		t.Errorf("bind on unlearned port %d: exit %d\n%s", other, r.code, r.stderr)
	}
	if alerts := sink.Alerts(t); !hasAlert(alerts, "bind", strconv.Itoa(other)) {
		t.Errorf("no alert for the bind on %d; got %v", other, bodies(alerts))
	}
}

func hasAlert(alerts []alert.Alert, op, target string) bool {
	for _, a := range alerts {
		if a.Kind != alert.KindSubDomain {
			continue
		}
		o, _ := a.Get("op")
		p, _ := a.Get("path")
		if p == "" {
			p, _ = a.Get("port")
		}
		if p == "" {
			p, _ = a.Get("syscall")
		}
		if p == "" {
			p, _ = a.Get("target")
		}
		if o == op && p == target {
			return true
		}
	}
	return false
}

func bodies(alerts []alert.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Body())
	}
	return out
}
