package subdomain_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain"
)

const frontC = `
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* front HELPER KEY honest|evil: hands the work to HELPER, which alone
 * should read KEY; "evil" reads KEY itself first. */
int main(int argc, char **argv) {
	if (argc != 4) return 2;
	if (strcmp(argv[3], "evil") == 0) {
		int fd = open(argv[2], O_RDONLY);
		printf("front read key: %s\n", fd >= 0 ? "yes" : "no");
		fflush(stdout);
	}
	pid_t pid = fork();
	if (pid == 0) {
		execl(argv[1], argv[1], argv[2], (char *)0);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
`

const helperC = `
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
	char buf[64];
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) { perror("helper"); return 1; }
	ssize_t n = read(fd, buf, sizeof buf);
	printf("helper signed with %zd key bytes\n", n);
	return 0;
}
`

// TestChildProfiles: the learner gives an executed helper its own nested
// profile (px), so only the helper's profile names the key. Complain mode
// follows the helper into its profile: the helper reading the key is
// fine, the front end reading it is alerted.
func TestChildProfiles(t *testing.T) {
	testenv.NeedsTool(t, "strace")
	testenv.NeedsTool(t, "gcc")
	dir := workspace(t)
	front := filepath.Join(dir, "front")
	helper := filepath.Join(dir, "helper")
	for exe, src := range map[string]string{front: frontC, helper: helperC} {
		data, _ := os.ReadFile(cbuild.Build(t, "gcc", src, "-O2", "-Wall", "-Wextra"))
		os.WriteFile(exe, data, 0o755)
	}
	key := filepath.Join(dir, "merchant.key")
	os.WriteFile(key, []byte("0123456789abcdef"), 0o600)
	prof, p := learnProfile(t, dir, "front.sd", front, helper, key, "honest")
	text, _ := os.ReadFile(prof)
	t.Logf("front profile (%s):\n%s", p.Count(), text)
	if p.Count().Profiles != 2 {
		t.Fatalf("want the helper as a nested profile")
	}
	if ok, _ := p.Allows(key, subdomain.Read); ok {
		t.Errorf("the front end's own profile allows the key")
	}
	child, ok := p.ChildFor(helper)
	if !ok || child == nil {
		t.Fatalf("no px rule for the helper")
	}
	if ok, _ := child.Allows(key, subdomain.Read); !ok {
		t.Errorf("the helper's profile does not allow the key")
	}
	want := "\t" + key + " r\n"
	if !strings.Contains(string(text), helper+" px {\n") || !strings.Contains(string(text), want) {
		t.Errorf("profile text lacks the nested block with %q", want)
	}

	sink := newSyslog(t)
	r := run(t, dir, sink, "", "run", "--complain", "--profile", prof, "--", front, helper, key, "honest")
	if r.code != 0 || r.stdout != "helper signed with 16 key bytes\n" {
		t.Fatalf("honest run: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if alerts := sink.Alerts(t); len(alerts) != 0 {
		t.Fatalf("honest run alerted: %v", bodies(alerts))
	}
	r = run(t, dir, sink, "", "run", "--complain", "--profile", prof, "--", front, helper, key, "evil")
	if r.code != 0 || !strings.Contains(r.stdout, "front read key: yes") {
		t.Fatalf("complain mode blocked: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	alerts := sink.Alerts(t)
	if len(alerts) != 1 || !hasAlert(alerts, "open", key) || alerts[0].Exe != front {
		t.Fatalf("want one alert for the front end reading the key, got %v", bodies(alerts))
	}

	// The AppArmor form keeps the distinction (a profile per program).
	if parser, err := exec.LookPath("apparmor_parser"); err == nil {
		aa := filepath.Join(dir, "front.aa")
		r = run(t, dir, nil, "", "learn", "--format", "apparmor", "-o", aa, "--from-trace", prof+".trace.zst")
		if r.code != 0 {
			t.Fatalf("learn --format apparmor: %s", r.stderr)
		}
		if out, err := exec.Command(parser, "-QK", "-M", "/usr/share/apparmor-features/features", aa).CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser: %v\n%s", err, out)
		}
	}
}
