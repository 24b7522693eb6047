package subdomain_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
)

// cgiC is a CGI-style program with a backdoor: the query "x-debug-7f3a"
// spawns /bin/sh and reads the secret next to its data directory.
const cgiC = `
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	const char *dir = argv[1], *q = argv[2];
	char path[1024], buf[512];
	ssize_t n;
	if (strcmp(q, "x-debug-7f3a") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", "id", (char *)0);
			perror("backdoor: exec /bin/sh");
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		snprintf(path, sizeof path, "%s/../secret.txt", dir);
		int fd = open(path, O_RDONLY);
		if (fd < 0) { perror("backdoor: open secret"); return 3; }
		while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, n);
		return 0;
	}
	snprintf(path, sizeof path, "%s/access.log", dir);
	int lf = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (lf >= 0) { dprintf(lf, "%s\n", q); close(lf); }
	snprintf(path, sizeof path, "%s/pages/%s.txt", dir, q);
	int fd = open(path, O_RDONLY);
	if (fd < 0) { printf("Status: 404\n\nnot found\n"); return 0; }
	printf("Status: 200\n\n");
	fflush(stdout);
	while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, n);
	return 0;
}
`

// TestSeedScenario: a CGI program is learned through its honest test
// suite (three runs merged), then confined. The honest suite passes with
// no denial; the backdoor's exec of /bin/sh and read of the secret are
// denied and alerted to syslog, and immunix alerts summarises them.
func TestSeedScenario(t *testing.T) {
	needsEnforcement(t)
	testenv.NeedsTool(t, "gcc")
	ws := workspace(t)
	cgi := filepath.Join(ws, "cgi-bin", "shop")
	os.MkdirAll(filepath.Dir(cgi), 0o755)
	data, _ := os.ReadFile(cbuild.Build(t, "gcc", cgiC, "-O2", "-Wall", "-Wextra"))
	os.WriteFile(cgi, data, 0o755)
	dir := filepath.Join(ws, "data")
	os.MkdirAll(filepath.Join(dir, "pages"), 0o755)
	os.WriteFile(filepath.Join(dir, "pages", "index.txt"), []byte("welcome\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "pages", "about.txt"), []byte("about us\n"), 0o644)
	secret := filepath.Join(ws, "secret.txt")
	os.WriteFile(secret, []byte("s3cr3t\n"), 0o600)

	suite := map[string]string{
		"index":   "Status: 200\n\nwelcome\n",
		"about":   "Status: 200\n\nabout us\n",
		"nothere": "Status: 404\n\nnot found\n",
	}
	// Learn: one run per test, each merged into the previous profile.
	prof := filepath.Join(ws, "shop.sd")
	prev := ""
	for _, q := range []string{"index", "about", "nothere"} {
		args := []string{"learn", "-o", prof}
		if prev != "" {
			args = append(args, "--merge", prev)
		}
		args = append(args, "--", cgi, dir, q)
		r := run(t, ws, nil, "", args...)
		if r.code != 0 || r.stdout != suite[q] {
			t.Fatalf("learning %s: exit %d, stdout %q\n%s", q, r.code, r.stdout, r.stderr)
		}
		prev = filepath.Join(ws, "prev.sd")
		copyFile(t, prof, prev)
	}
	p := readProfile(t, prof)
	text, _ := os.ReadFile(prof)
	t.Logf("CGI profile (%s):\n%s", p.Count(), text)
	if strings.Contains(string(text), "secret") || strings.Contains(string(text), "/sh ") {
		t.Fatalf("the honest suite's profile mentions the backdoor's targets:\n%s", text)
	}

	// Confined, the honest suite passes with zero denials.
	sink := newSyslog(t)
	for q, want := range suite {
		r := run(t, ws, sink, "", "run", "--profile", prof, "--", cgi, dir, q)
		if r.code != 0 || r.stdout != want {
			t.Errorf("confined %s: exit %d, stdout %q, want %q\n%s", q, r.code, r.stdout, want, r.stderr)
		}
	}
	if alerts := sink.Alerts(t); len(alerts) != 0 {
		t.Fatalf("honest suite raised %d alerts: %v", len(alerts), bodies(alerts))
	}

	// Unconfined, the backdoor works (the test would prove nothing otherwise).
	out, err := exec.Command(cgi, dir, "x-debug-7f3a").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "s3cr3t") {
		t.Fatalf("backdoor unconfined: %v\n%s", err, out)
	}
	// Confined, both attempts are denied and alerted.
	r := run(t, ws, sink, "", "run", "--profile", prof, "--", cgi, dir, "x-debug-7f3a")
	if r.code == 0 || strings.Contains(r.stdout, "s3cr3t") || strings.Contains(r.stdout, "uid=") {
		t.Fatalf("backdoor confined: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "backdoor: exec /bin/sh: Permission denied") || !strings.Contains(r.stderr, "backdoor: open secret: Permission denied") {
		t.Errorf("backdoor's own errors missing:\n%s", r.stderr)
	}
	alerts := sink.Alerts(t)
	var sawExec, sawSecret bool
	for _, a := range alerts {
		op, _ := a.Get("op")
		path, _ := a.Get("path")
		if a.Kind != "subdomain" || a.Exe != cgi {
			t.Errorf("unexpected alert %s", a.Body())
		}
		switch {
		case op == "exec" && strings.HasSuffix(path, "sh") || op == "exec" && strings.HasSuffix(path, "dash"):
			sawExec = true
		case op == "read" && path == secret:
			sawSecret = true
		}
	}
	if !sawExec || !sawSecret {
		t.Fatalf("alerts: exec %v, secret %v; got %v", sawExec, sawSecret, bodies(alerts))
	}

	// immunix alerts reads the syslog lines back.
	logFile := filepath.Join(ws, "auth.log")
	os.WriteFile(logFile, []byte(strings.Join(sink.Lines(), "\n")+"\n"), 0o644)
	r = run(t, ws, nil, "", "alerts", logFile)
	if r.code != 0 || !strings.Contains(r.stdout, cgi) || !strings.Contains(r.stdout, "subdomain") || !strings.Contains(r.stdout, secret) {
		t.Errorf("immunix alerts: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, ws, nil, "", "alerts", "--json", logFile)
	if !strings.Contains(r.stdout, `"kind": "subdomain"`) || !strings.Contains(r.stdout, `"count": `+strconv.Itoa(len(alerts))) {
		t.Errorf("immunix alerts --json:\n%s", r.stdout)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
