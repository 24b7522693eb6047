package alert

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// PriAuthprivAlert is the syslog PRI of every immunix alert: facility
// authpriv (10), severity alert (1).
const PriAuthprivAlert = 10*8 + 1

// SocketEnv names the environment variable that points alerts at a test's
// own syslog socket instead of /dev/log, as the C runtime does.
const SocketEnv = "IMMUNIX_SYSLOG_SOCKET"

// Writer sends alerts the way the C writer (guardlib/runtime/alert.h) does:
// "<81>immunix[PID]: BODY" as one datagram to syslog, and "BODY\n" to
// Stderr. When syslog cannot be reached the line goes to /dev/kmsg if that
// is writable.
type Writer struct {
	// Socket is the syslog socket; "" means $IMMUNIX_SYSLOG_SOCKET, else
	// /dev/log.
	Socket string
	// Stderr receives the body line; nil means no copy.
	Stderr io.Writer
	// PID is the PID in the syslog tag; 0 means os.Getpid().
	PID int
}

func (w *Writer) socket() string {
	if w.Socket != "" {
		return w.Socket
	}
	if s := os.Getenv(SocketEnv); s != "" {
		return s
	}
	return "/dev/log"
}

// Send writes one alert. The error reports only the case where neither
// syslog nor /dev/kmsg took it.
func (w *Writer) Send(a *Alert) error {
	body := a.Body()
	if w.Stderr != nil {
		fmt.Fprintln(w.Stderr, body)
	}
	pid := w.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	msg := "<" + strconv.Itoa(PriAuthprivAlert) + ">immunix[" + strconv.Itoa(pid) + "]: " + body
	sock := w.socket()
	conn, err := net.DialTimeout("unixgram", sock, time.Second)
	if err == nil {
		_, err = conn.Write([]byte(msg))
		conn.Close()
		if err == nil {
			return nil
		}
	}
	k, kerr := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if kerr != nil {
		return fmt.Errorf("send alert to %s: %w (and /dev/kmsg: %v)", sock, err, kerr)
	}
	defer k.Close()
	if _, kerr = k.Write([]byte("<1>immunix[" + strconv.Itoa(pid) + "]: " + body)); kerr != nil {
		return fmt.Errorf("send alert to %s: %w (and /dev/kmsg: %v)", sock, err, kerr)
	}
	return nil
}
