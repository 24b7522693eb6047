package stackguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestSecureExecIgnoresSocketOverride: in a setuid program (AT_SECURE) the
// runtime ignores IMMUNIX_SYSLOG_SOCKET, so an unprivileged user cannot
// steer or forge where a privileged program's alerts go; the alert still
// reaches stderr.
func TestSecureExecIgnoresSocketOverride(t *testing.T) {
	testenv.NeedsRoot(t)
	dir, err := os.MkdirTemp("", "sgsuid")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "smash")
	compile(t, variant{cc: "gcc"}, smashSrc, exe, true, "-O2")
	if err := os.Chmod(exe, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	sink := testenv.NewSyslog(t)
	os.Chmod(filepath.Dir(sink.Path), 0o777)
	os.Chmod(sink.Path, 0o777)

	for _, tc := range []struct {
		name      string
		setuid    bool
		wantSinks int
	}{
		{"plain", false, 1},
		{"setuid", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(exe, "64")
			cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			if !tc.setuid {
				os.Chmod(exe, 0o755)
				defer os.Chmod(exe, os.ModeSetuid|0o755)
			}
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGABRT {
				t.Fatalf("want SIGABRT, got %v: %s", err, out)
			}
			if !strings.Contains(string(out), "immunix alert: kind=stackguard exe="+exe+" ") {
				t.Errorf("stderr: %q", out)
			}
			if got := sink.Take(); len(got) != tc.wantSinks {
				fi, _ := os.Stat(exe)
				t.Errorf("the test socket got %d alerts, want %d: %q (mode %v)", len(got), tc.wantSinks, got, fi.Mode())
			}
		})
	}
}
