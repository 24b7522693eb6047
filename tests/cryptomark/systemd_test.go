package cryptomark

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
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

// unitFile is the unit the packages install (rpm spec, install-image.sh,
// debian/immunix.install).
func unitFile(t *testing.T) string {
	return filepath.Join(testenv.ModuleRoot(t), "cryptomark", "dist", "immunix-markd.service")
}

// TestUnitVerifies: systemd-analyze verify accepts the unit as installed
// (a root with /usr/bin/immunix, the policy and the unit; no PID 1 needed),
// with no warning, and refuses a broken copy (so the check can fail).
func TestUnitVerifies(t *testing.T) {
	testenv.NeedsTool(t, "systemd-analyze")
	unit, err := os.ReadFile(unitFile(t))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, unitText string, withBinary bool) (string, error) {
		root := t.TempDir()
		for _, d := range []string{"usr/bin", "usr/lib/systemd/system", "etc/immunix"} {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		if withBinary {
			data, _ := os.ReadFile(filepath.Join(testenv.Binaries(t), "immunix"))
			os.WriteFile(filepath.Join(root, "usr/bin/immunix"), data, 0o755)
		}
		pol, _ := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "cryptomark", "dist", "cryptomark.conf"))
		os.WriteFile(filepath.Join(root, "etc/immunix/cryptomark.conf"), pol, 0o644)
		p := filepath.Join(root, "usr/lib/systemd/system/immunix-markd.service")
		os.WriteFile(p, []byte(unitText), 0o644)
		out, err := exec.Command("systemd-analyze", "--root="+root, "verify", p).CombinedOutput()
		return string(out), err
	}
	t.Run("installed", func(t *testing.T) {
		if out, err := verify(t, string(unit), true); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	for _, c := range []struct {
		name   string
		text   string
		binary bool
		want   string
	}{
		{"no binary", string(unit), false, "/usr/bin/immunix is not executable"},
		{"bad type", strings.Replace(string(unit), "Type=notify", "Type=notifyy", 1), true, "notifyy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := verify(t, c.text, c.binary)
			if err == nil && !strings.Contains(out, c.want) {
				t.Errorf("a broken unit passed systemd-analyze verify: %q", out)
			}
		})
	}
	// What the service relies on: readiness by sd_notify from the main
	// process (markd --foreground, which immunix execs in place), and a
	// stop that kills only the daemon (the kernel then lets waiting execs
	// go on).
	for _, want := range []string{"\nType=notify\n", "\nNotifyAccess=main\n", "\nKillMode=process\n", "\nExecStart=/usr/bin/immunix markd --foreground "} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	// Its ExecStart parses as markd's command line: the same words with
	// --help, which markd answers after parsing them and before it marks
	// anything.
	var argv []string
	for _, l := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart=/usr/bin/immunix "); ok {
			argv = strings.Fields(v)
		}
	}
	if code, out := immunix(t, append(argv, "--help")...); code != 0 || !strings.Contains(out, "Usage: immunix markd") {
		t.Errorf("ExecStart's arguments %q: exit %d: %s", argv, code, out)
	}
}

// TestNotifyReady: under NOTIFY_SOCKET (a unixgram socket the test binds,
// as systemd does for Type=notify) markd sends READY=1 from its main PID
// only once the fanotify mark is in place: the kernel lists the mark in
// the daemon's fdinfo when READY arrives, and an unsigned exec made the
// moment READY arrives is denied. SIGTERM sends STOPPING=1.
func TestNotifyReady(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	unsigned := program(t, filepath.Join(mnt, "unsigned"))
	if err := run(unsigned); err != nil {
		t.Fatalf("without the gate: %v", err)
	}
	sockPath := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, _ := conn.SyscallConn()
	raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })

	// Fill the socket's queue, so that markd's READY=1 sendto blocks: it
	// is stopped exactly at its notification, where the test looks at
	// what the kernel says about its marks.
	filler, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(filler)
	queued := 0
	for ; queued < 100000; queued++ {
		if err := unix.Sendto(filler, []byte("JUNK"), 0, &unix.SockaddrUnix{Name: sockPath}); err != nil {
			if err != unix.EAGAIN {
				t.Fatalf("fill the notify socket: %v", err)
			}
			break
		}
	}

	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix"), "markd", "--foreground", "--mark", mnt,
		"--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		close(lines)
	}()
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()

	type msg struct {
		text string
		pid  int32
	}
	recv := func() (msg, error) {
		buf := make([]byte, 4096)
		oob := make([]byte, 256)
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return msg{}, err
		}
		m := msg{text: string(buf[:n])}
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, c := range cms {
				if cred, err := unix.ParseUnixCredentials(&c); err == nil {
					m.pid = cred.Pid
				}
			}
		}
		return m, nil
	}
	// markd stopped in its sendto of READY=1 (the queue is full): by
	// then the kernel must list its fanotify mark.
	deadline := time.Now().Add(30 * time.Second)
	for !inSendto(cmd.Process.Pid) {
		select {
		case <-exited:
			t.Fatalf("markd exited before it notified: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("markd not in sendto after 30s: %s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	if !hasFanotifyMark(t, cmd.Process.Pid) {
		t.Errorf("markd sends its notification before the kernel lists its fanotify mark")
	}
	for i := 0; i < queued; i++ {
		if m, err := recv(); err != nil || m.text != "JUNK" {
			t.Fatalf("drain: %q %v", m.text, err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	ready, err := recv()
	if err != nil {
		t.Fatalf("no READY=1: %v; %s", err, stderr.String())
	}
	// The moment READY arrives: an unsigned exec is denied.
	err = run(unsigned)
	if ready.text != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", ready.text)
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("unsigned exec right after READY=1: %v, want EPERM", err)
	}
	if ready.pid != int32(cmd.Process.Pid) {
		t.Errorf("READY=1 came from pid %d, the main process is %d (NotifyAccess=main would drop it)", ready.pid, cmd.Process.Pid)
	}
	if l := <-lines; !strings.HasPrefix(l, "immunix markd: ready") {
		t.Errorf("stdout says %q, want the ready line", l)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if m, err := recv(); err != nil || m.text != "STOPPING=1" {
		t.Errorf("on SIGTERM: %q (%v), want STOPPING=1", m.text, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("markd still running 10s after SIGTERM")
	}
}

// hasFanotifyMark: the kernel's fdinfo of one of pid's descriptors lists a
// fanotify filesystem mark ("fanotify sdev:...").
func hasFanotifyMark(t *testing.T, pid int) bool {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && strings.Contains(string(data), "fanotify sdev:") {
			return true
		}
	}
	return false
}

// inSendto: one of pid's threads is inside the sendto system call (the
// kernel's /proc/PID/task/TID/syscall starts with its number).
func inSendto(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(data), fmt.Sprintf("%d ", unix.SYS_SENDTO)) {
			return true
		}
	}
	return false
}
