package subdomain_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

func TestStraceMissing(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(immunix(t), "learn", "-o", filepath.Join(dir, "p.sd"), "--", "/usr/bin/true")
	cmd.Env = []string{"PATH=" + dir} // no strace there
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 127 {
		t.Fatalf("exit = %v, want 127", err)
	}
	want := "immunix learn: strace is not installed (Debian package: strace; apt-get install strace)\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	bad := write("bad.sd", "# /usr/bin/true 1\n/etc/x rq\n")
	garbage := write("garbage.trace", "GET / HTTP/1.1\nHost: x\n")
	empty := write("empty.trace", "")
	noexec := write("noexec.trace", "1 openat(AT_FDCWD</d>, \"/x\", O_RDONLY) = 3</x>\n")
	trunc := write("trunc.trace.zst", "\x28\xb5\x2f\xfd\x04\x00")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"profile syntax error", []string{"run", "--profile", bad, "--", "/usr/bin/true"}, 1, "immunix run: " + bad + ":2:9: unknown mode 'q' (want r, w, c, m, ix or px)\n"},
		{"missing profile", []string{"run", "--profile", filepath.Join(dir, "none.sd"), "--", "/usr/bin/true"}, 1, "immunix run: read profile: open " + filepath.Join(dir, "none.sd") + ": no such file or directory\n"},
		{"no profile flag", []string{"run", "--", "/usr/bin/true"}, 2, "immunix run: --profile is required\n"},
		{"garbage trace", []string{"learn", "--from-trace", garbage}, 1, "immunix learn: replay " + garbage + ": parse trace: not an strace -f trace"},
		{"empty trace", []string{"learn", "--from-trace", empty}, 1, "no successful execve"},
		{"trace without exec", []string{"learn", "--from-trace", noexec}, 1, "no successful execve"},
		{"truncated compressed trace", []string{"learn", "--from-trace", trunc}, 1, "immunix learn: replay " + trunc + ": read trace: "},
		{"merge a broken profile", []string{"learn", "--from-trace", noexec, "--merge", bad}, 1, "immunix learn: "},
		{"learn without command", []string{"learn"}, 2, "immunix learn: no command: give -- CMD [ARGS...] or --from-trace TRACE\n"},
		{"bad format", []string{"learn", "--format", "selinux", "--", "/usr/bin/true"}, 2, "immunix learn: unknown --format \"selinux\" (want subdomain or apparmor)\n"},
		{"alerts bad since", []string{"alerts", "--since", "yesterday", bad}, 2, "immunix alerts: bad --since \"yesterday\""},
		{"alerts missing file", []string{"alerts", filepath.Join(dir, "nolog")}, 1, "immunix alerts: read log: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, nil, "", tt.args...)
			if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.want) && !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Errorf("panic trace:\n%s", r.stderr)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("more than one line on stderr:\n%s", r.stderr)
			}
		})
	}
}

func TestHelpMatchesFlags(t *testing.T) {
	for _, c := range []string{"learn", "run", "alerts"} {
		r := run(t, t.TempDir(), nil, "", c, "--help")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: immunix "+c) {
			t.Errorf("%s --help: exit %d\n%s", c, r.code, r.stdout)
		}
	}
}

// TestReplayAndFormats: the kept trace replays into the same profile, and
// --format apparmor gives a profile apparmor_parser accepts.
func TestReplayAndFormats(t *testing.T) {
	testenv.NeedsTool(t, "strace")
	dir := workspace(t)
	prof, _ := learnProfile(t, dir, "ls.sd", "/usr/bin/ls", "-l", "/usr/share/doc")
	orig, _ := os.ReadFile(prof)
	r := run(t, dir, nil, "", "learn", "--from-trace", prof+".trace.zst")
	if r.code != 0 || r.stdout != string(orig) {
		t.Errorf("replay differs: exit %d\n%s\nwant\n%s\n%s", r.code, r.stdout, orig, r.stderr)
	}
	r = run(t, dir, nil, "", "learn", "--explain", "--from-trace", prof+".trace.zst")
	if r.code != 0 || !strings.Contains(r.stdout, "\t#  ") || !strings.Contains(r.stdout, "openat(") {
		t.Errorf("--explain shows no trace lines:\n%s", r.stdout)
	}
	parser := testenv.NeedsTool(t, "apparmor_parser")
	aa := filepath.Join(dir, "ls.aa")
	r = run(t, dir, nil, "", "learn", "--format", "apparmor", "-o", aa, "--from-trace", prof+".trace.zst")
	if r.code != 0 {
		t.Fatalf("learn --format apparmor: %d\n%s", r.code, r.stderr)
	}
	out, err := exec.Command(parser, "-QK", "-M", "/usr/share/apparmor-features/features", aa).CombinedOutput()
	if err != nil {
		text, _ := os.ReadFile(aa)
		t.Errorf("apparmor_parser -QK: %v\n%s\n%s", err, out, text)
	}
}

// TestComplain: out-of-profile accesses are alerted and not blocked.
func TestComplain(t *testing.T) {
	testenv.NeedsTool(t, "strace")
	dir := workspace(t)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("b\na\n"), 0o644)
	prof, _ := learnProfile(t, dir, "sort.sd", "/usr/bin/sort", "in.txt")
	sink := newSyslog(t)
	r := run(t, dir, sink, "", "run", "--complain", "--profile", prof, "--", "/usr/bin/sort", "/etc/hostname", "in.txt")
	host, _ := os.ReadFile("/etc/hostname")
	if r.code != 0 || !strings.Contains(r.stdout, strings.TrimSpace(string(host))) {
		t.Fatalf("complain mode blocked: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	alerts := sink.Alerts(t)
	found := false
	for _, a := range alerts {
		mode, _ := a.Get("mode")
		path, _ := a.Get("path")
		if mode == "complain" && path == "/etc/hostname" {
			found = true
		}
	}
	if !found || len(alerts) != 1 {
		t.Errorf("want one complain alert for /etc/hostname, got %v", bodies(alerts))
	}
}
