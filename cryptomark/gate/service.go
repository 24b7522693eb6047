package gate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ReadyLine is printed on standard output when the gate answers events.
const ReadyLine = "immunix markd: ready"

// Notify tells systemd the daemon's state (sd_notify: "READY=1",
// "STOPPING=1") when NOTIFY_SOCKET is set (a path, or "@name" for an
// abstract socket); it is a no-op otherwise. The datagram is sent with a
// blocking sendto bounded by a one-second SO_SNDTIMEO, so a full receiver
// delays the caller at most that long and the call returns only once the
// message is queued.
func Notify(state string) error {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	// x/sys/unix makes a leading '@' the abstract namespace's NUL.
	for {
		err = unix.Sendto(fd, []byte(state), 0, &unix.SockaddrUnix{Name: sock})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", sock, err)
	}
	return nil
}

// Background starts exe with args (which must make it run in the
// foreground) in a new session, detached from the terminal, waits until
// it prints ReadyLine and returns its PID; if it exits first, its last
// error line is the error.
func Background(exe string, args []string) (int, error) {
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return 0, fmt.Errorf("start markd: %w", err)
	}
	w.Close()
	defer r.Close()
	sc := bufio.NewScanner(r)
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), ReadyLine) {
			// Once this end is closed the daemon's writes to its
			// standard output fail with EPIPE (markd ignores SIGPIPE).
			// Read the PID before Release, which sets it to -1 (and
			// the order of a return list's operands is unspecified).
			pid := cmd.Process.Pid
			return pid, cmd.Process.Release()
		}
		last = sc.Text()
	}
	cmd.Wait()
	if last == "" {
		return 0, errors.New("markd exited before it was ready")
	}
	return 0, errors.New(strings.TrimPrefix(last, "immunix markd: "))
}
