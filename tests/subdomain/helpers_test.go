// Package subdomain_test runs immunix learn, run and alerts end to end:
// real programs (coreutils, python3, C programs built here with gcc)
// learned under the real strace, then confined by the real kernel's
// Landlock, with alerts caught on a syslog socket the test binds.
package subdomain_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/enforce"
)

// immunix returns the built immunix binary.
func immunix(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.Binaries(t), "immunix")
}

// workspace returns a fresh directory outside the temporary directories,
// so that learn does not generalise its random name into a /tmp glob
// (which Landlock would enforce as the whole of /tmp).
func workspace(t *testing.T) string {
	t.Helper()
	base := "/var/lib/immunix-tests"
	if err := os.MkdirAll(base, 0o755); err != nil {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache", "immunix-tests")
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp(base, "ws")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// needsEnforcement skips unless the kernel can enforce and audit
// (Landlock ABI 7) and the test can read audit records (root).
func needsEnforcement(t *testing.T) {
	t.Helper()
	testenv.NeedsTool(t, "strace")
	if abi := enforce.KernelABI(); abi < 7 {
		testenv.KernelLacks(t, fmt.Sprintf("Landlock ABI %d, below 7: denials are not audited", abi))
	}
	testenv.NeedsRoot(t)
}

// syslogSink is testenv.Syslog with the alerts parsed.
type syslogSink struct{ *testenv.Syslog }

func newSyslog(t *testing.T) *syslogSink { return &syslogSink{testenv.NewSyslog(t)} }

// Alerts returns the alerts received so far: every one sent before the call.
func (s *syslogSink) Alerts(t *testing.T) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	var p alert.Parser
	for _, m := range s.Lines() {
		a, err := p.ParseLine(m)
		if err != nil {
			t.Errorf("syslog got a line that is not an alert: %q: %v", m, err)
			continue
		}
		if a.Priority != alert.PriAuthprivAlert {
			t.Errorf("alert with PRI %d, want %d: %q", a.Priority, alert.PriAuthprivAlert, m)
		}
		out = append(out, a)
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs immunix with args in dir, with the syslog socket in the env.
func run(t *testing.T, dir string, sink *syslogSink, stdin string, args ...string) result {
	t.Helper()
	return runCommand(t, dir, sink, stdin, append([]string{immunix(t)}, args...)...)
}

// runCommand runs argv (an immunix, or a tool running one) as run does.
func runCommand(t *testing.T, dir string, sink *syslogSink, stdin string, argv ...string) result {
	t.Helper()
	args := argv[1:]
	cmd := exec.Command(argv[0], args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if sink != nil {
		cmd.Env = append(cmd.Env, alert.SocketEnv+"="+sink.Path)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{code, out.String(), errb.String()}
}

// learnProfile learns a profile for argv in dir and returns its path and
// parsed form, logging its rule counts.
func learnProfile(t *testing.T, dir, name string, argv ...string) (string, *subdomain.Profile) {
	t.Helper()
	out := filepath.Join(dir, name)
	r := run(t, dir, nil, "", append([]string{"learn", "-o", out, "--"}, argv...)...)
	if r.code != 0 {
		t.Fatalf("learn %v: exit %d\n%s", argv, r.code, r.stderr)
	}
	return out, readProfile(t, out)
}

func readProfile(t *testing.T, path string) *subdomain.Profile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := subdomain.Parse(path, data)
	if err != nil {
		t.Fatalf("learned profile does not parse: %v\n%s", err, data)
	}
	return p
}
