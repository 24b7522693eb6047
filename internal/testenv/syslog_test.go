package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// send sends each message as one datagram from a socket of its own, as a
// guarded program does.
func send(t *testing.T, path string, msgs ...string) {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyslogLinesInOrder(t *testing.T) {
	s := NewSyslog(t)
	if len(s.Path) >= 108 {
		t.Fatalf("socket path %q does not fit in sun_path", s.Path)
	}
	if got := s.Lines(); len(got) != 0 {
		t.Fatalf("fresh sink: %q", got)
	}
	// More datagrams than a unix socket queues (net.unix.max_dgram_qlen,
	// 512 by default): only a reader that keeps up receives them all.
	const n = 2000
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, "<81>immunix[1]: immunix alert: kind=test n="+strconv.Itoa(i))
	}
	send(t, s.Path, want...)
	// No wait: Lines itself makes sure every datagram sent is read.
	got := s.Lines()
	if len(got) != n {
		t.Fatalf("got %d datagrams, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("datagram %d: got %q, want %q", i, got[i], want[i])
		}
	}
	send(t, s.Path, "one more")
	if got := s.Lines(); len(got) != n+1 || got[n] != "one more" {
		t.Fatalf("after one more: %d datagrams, last %q", len(got), got[len(got)-1])
	}
}

func TestSyslogTake(t *testing.T) {
	s := NewSyslog(t)
	send(t, s.Path, "a", "b")
	if got := s.Take(); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("first Take: %q", got)
	}
	if got := s.Take(); len(got) != 0 {
		t.Fatalf("second Take: %q", got)
	}
	send(t, s.Path, "c")
	if got := s.Take(); fmt.Sprint(got) != "[c]" {
		t.Fatalf("third Take: %q", got)
	}
	if got := s.Lines(); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("Lines after Take: %q", got)
	}
}

// TestSyslogFromChild: a datagram a child process sent before it was
// reaped is in Lines at once (logger(1) writes RFC 3164 lines to a unix
// datagram socket, as the guard runtime does).
func TestSyslogFromChild(t *testing.T) {
	logger := NeedsTool(t, "logger")
	s := NewSyslog(t)
	out, err := exec.Command(logger, "--socket", s.Path, "--socket-errors=on", "-t", "immunix", "-p", "authpriv.alert", "hello from a child").CombinedOutput()
	if err != nil {
		t.Fatalf("logger: %v: %s", err, out)
	}
	got := s.Lines()
	if len(got) != 1 || !strings.HasPrefix(got[0], "<81>") || !strings.HasSuffix(got[0], "hello from a child") {
		t.Fatalf("got %q", got)
	}
}

// TestSyslogCleanup: the socket and its directory are gone after the test.
func TestSyslogCleanup(t *testing.T) {
	var path string
	t.Run("use", func(t *testing.T) {
		s := NewSyslog(t)
		path = s.Path
		send(t, path, "x")
		if got := s.Lines(); len(got) != 1 {
			t.Fatalf("got %q", got)
		}
	})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s still there after the test: %v", path, err)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts datagrams after the test", path)
	} else if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s after the test: %v", path, err)
	}
}
