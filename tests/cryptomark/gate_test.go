package cryptomark

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/testenv"
)

// TestGate: under require-signed, only programs signed by a trusted key
// and unchanged since run; the attack (an unsigned program, a changed
// byte, an untrusted key) is shown to work without the gate first.
func TestGate(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	other := newKeys(t)

	unsigned := program(t, filepath.Join(mnt, "trojan"))
	signed := program(t, filepath.Join(mnt, "signed"))
	k.sign(t, signed)
	changed := program(t, filepath.Join(mnt, "changed"))
	k.sign(t, changed)
	untrusted := program(t, filepath.Join(mnt, "untrusted"))
	other.sign(t, untrusted)
	os.Mkdir(filepath.Join(mnt, "elsewhere"), 0o755)
	copied := filepath.Join(mnt, "elsewhere", "copy")
	if out, err := exec.Command("cp", "-a", signed, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v %s", err, out)
	}
	flip := func(p string) {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		f.ReadAt(b, 500)
		b[0] ^= 0x01
		f.WriteAt(b, 500)
		f.Close()
	}
	flip(changed)

	// Without the gate every one of them runs: the attack works.
	for _, p := range []string{unsigned, signed, untrusted, copied} {
		if err := run(p); err != nil {
			t.Fatalf("without the gate, %s: %v", p, err)
		}
	}

	sink := testenv.NewSyslog(t)
	pol := writePolicy(t, "# test policy\n"+mnt+" require-signed\n/ allow\n")
	d := startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)

	wantEPERM(t, unsigned)
	waitAlert(t, sink, "kind=cryptomark", "exe="+unsigned, "msg=denied: not signed")
	// The shell reports it the way users will see it.
	out, _ := exec.Command("sh", "-c", unsigned).CombinedOutput()
	if !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("sh running an unsigned program said %q, want Operation not permitted", out)
	}
	if err := run(signed); err != nil {
		t.Errorf("signed program: %v", err)
	}
	if err := run(copied); err != nil {
		t.Errorf("signed program copied with cp -a: %v", err)
	}
	wantEPERM(t, changed)
	waitAlert(t, sink, "exe="+changed, "signature does not match")
	wantEPERM(t, untrusted)
	waitAlert(t, sink, "exe="+untrusted, "not trusted")

	// The file changes after it was checked (and its verdict cached): it
	// is checked again.
	if err := run(signed); err != nil {
		t.Fatalf("signed program, second run: %v", err)
	}
	flip(signed)
	wantEPERM(t, signed)
	flip(signed)
	if err := run(signed); err != nil {
		t.Errorf("signed program restored: %v", err)
	}
	d.alive(t)
}

// TestAllowRuleTrustsOwnerNotPath: an allow rule lets root's own files
// run unsigned, but not a file someone else owns or can write under the
// same path (a path can be made to say anything).
func TestAllowRuleTrustsOwnerNotPath(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	root := program(t, filepath.Join(mnt, "roots"))
	users := program(t, filepath.Join(mnt, "users"))
	os.Chown(users, 65534, 65534)
	writable := program(t, filepath.Join(mnt, "writable"))
	os.Chmod(writable, 0o777)
	sink := testenv.NewSyslog(t)
	pol := writePolicy(t, mnt+" allow\n")
	startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	if err := run(root); err != nil {
		t.Errorf("root's program under an allow rule: %v", err)
	}
	wantEPERM(t, users)
	waitAlert(t, sink, "exe="+users, "allow rule ignored")
	wantEPERM(t, writable)
	k.sign(t, users)
	if err := run(users); err != nil {
		t.Errorf("signed user program under an allow rule: %v", err)
	}
}

// TestAuditMode: --audit runs everything and alerts what it would deny;
// an audit rule does the same for its directory.
func TestAuditMode(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	unsigned := program(t, filepath.Join(mnt, "unsigned"))
	sink := testenv.NewSyslog(t)
	pol := writePolicy(t, mnt+" require-signed\n")
	d := startMarkd(t, "--audit", "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	if err := run(unsigned); err != nil {
		t.Fatalf("--audit: unsigned program: %v", err)
	}
	waitAlert(t, sink, "kind=cryptomark", "exe="+unsigned, "audit mode, would deny")
	d.kill()

	pol = writePolicy(t, mnt+" audit\n")
	startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	os.Chtimes(unsigned, timeZero, timeZero) // a new ctime: not from the cache
	if err := run(unsigned); err != nil {
		t.Fatalf("audit rule: unsigned program: %v", err)
	}
	line := waitAlert(t, sink, "exe="+unsigned, "msg=audit:")
	// immunix alerts reads it back.
	log := filepath.Join(t.TempDir(), "syslog")
	os.WriteFile(log, []byte(line+"\n"), 0o644)
	code, out := immunix(t, "alerts", log)
	if code != 0 || !strings.Contains(out, "cryptomark 1") || !strings.Contains(out, unsigned) {
		t.Errorf("immunix alerts: exit %d:\n%s", code, out)
	}
}

// TestStartupErrors: one clear line and a non-zero exit for each.
func TestStartupErrors(t *testing.T) {
	testenv.NeedsRoot(t)
	k := newKeys(t)
	bad := writePolicy(t, "/tmp require-signed\n\n/home allow-maybe\n")
	rel := writePolicy(t, "tmp allow\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"policy action", []string{"--mark", "/nonexistent", "--policy", bad}, bad + ":3: unknown action \"allow-maybe\""},
		{"policy path", []string{"--mark", "/nonexistent", "--policy", rel}, rel + ":1: path prefix \"tmp\" is not absolute"},
		{"no policy", []string{"--mark", "/nonexistent", "--policy", "/nonexistent/policy"}, "read policy"},
		{"no mark", []string{"--policy", writePolicy(t, "/ allow\n"), "--keys", k.Dir}, "give at least one --mark"},
		{"missing mark", []string{"--mark", "/nonexistent/dir", "--policy", writePolicy(t, "/ allow\n"), "--keys", k.Dir}, "mark the filesystem of /nonexistent/dir"},
		{"bad keys", []string{"--mark", "/nonexistent", "--policy", writePolicy(t, "/ allow\n"), "--keys", "/etc"}, "trusted keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := immunix(t, append([]string{"markd", "--foreground"}, tt.args...)...)
			if code == 0 || !strings.Contains(out, tt.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 || strings.Contains(out, "goroutine") {
				t.Errorf("exit %d, output %q; want one line with %q", code, out, tt.want)
			}
		})
	}
	t.Run("not root", func(t *testing.T) {
		// Copies nobody can run (the build directory is root's, 0700).
		dir, err := os.MkdirTemp("", "markd-nobody")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o755)
		for _, n := range []string{"immunix", "immunix-tools"} {
			data, _ := os.ReadFile(filepath.Join(testenv.Binaries(t), n))
			os.WriteFile(filepath.Join(dir, n), data, 0o755)
		}
		pol := filepath.Join(dir, "policy")
		os.WriteFile(pol, []byte("/ allow\n"), 0o644)
		cmd := exec.Command(filepath.Join(dir, "immunix"), "markd", "--foreground", "--mark", "/nonexistent-markd-test", "--policy", pol, "--keys", filepath.Join(dir, "keys"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(string(out), "run immunix markd as root") {
			t.Errorf("as nobody: %v %q", err, out)
		}
	})
}

// TestScripts: a script run directly is allowed (it cannot carry a
// signature and "sh FILE" would run it anyway), but the kernel's exec of
// its interpreter is gated: an unsigned interpreter on the marked
// filesystem is denied.
func TestScripts(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	interp := program(t, filepath.Join(mnt, "interp"))
	script := filepath.Join(mnt, "script")
	os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	viaUnsigned := filepath.Join(mnt, "via-unsigned")
	os.WriteFile(viaUnsigned, []byte("#!"+interp+"\n"), 0o755)
	if err := run(viaUnsigned); err != nil {
		t.Fatalf("without the gate: %v", err)
	}
	startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir)
	if err := run(script); err != nil {
		t.Errorf("a script whose interpreter is /bin/sh: %v", err)
	}
	wantEPERM(t, viaUnsigned)
	k.sign(t, interp)
	if err := run(viaUnsigned); err != nil {
		t.Errorf("a script whose interpreter is signed: %v", err)
	}
}

// TestBackground: without --foreground markd detaches once ready and
// says its PID; the detached gate enforces.
func TestBackground(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	unsigned := program(t, filepath.Join(mnt, "unsigned"))
	code, out := immunix(t, "markd", "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir)
	var pid int
	if _, err := fmt.Sscanf(out, "immunix markd: ready (pid %d)", &pid); code != 0 || err != nil {
		t.Fatalf("markd in the background: exit %d, %q (%v)", code, out, err)
	}
	// Never signal a PID that is not the daemon's: kill(-1) or kill(0)
	// would hit every process (or the group).
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if pid <= 1 || !strings.Contains(string(cmdline), "markd\x00--foreground") || !strings.Contains(string(cmdline), mnt) {
		t.Fatalf("markd in the background said pid %d, which is not it (%q)", pid, cmdline)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() {
		// Through a pidfd: never a recycled PID.
		unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		unix.Close(pidfd)
	})
	wantEPERM(t, unsigned)
}
