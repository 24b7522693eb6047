package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Syslog is a datagram socket standing in for /dev/log: point a program's
// alerts at it (IMMUNIX_SYSLOG_SOCKET=s.Path) and read back what arrived.
//
// A goroutine reads the socket from the start, so a program that sends many
// alerts (a forking server under attack) never finds the queue full, which
// would make the guard runtime fall back to /dev/kmsg.
//
// Example:
//
//	s := testenv.NewSyslog(t)
//	cmd := exec.Command(exe)
//	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+s.Path)
//	cmd.Run()
//	lines := s.Lines() // every datagram sent before Lines was called
type Syslog struct {
	// Path is the socket's file name, short enough for sun_path.
	Path string

	t    testing.TB
	conn *net.UnixConn
	out  *net.UnixConn // sends the markers Lines waits for

	mu      sync.Mutex
	msgs    []string
	taken   int           // msgs[:taken] were returned by Take
	marks   uint64        // the last marker sent
	seen    uint64        // the last marker read back
	changed chan struct{} // closed (and replaced) when seen grows
	done    bool          // the reader stopped
}

// markPrefix starts the datagrams Lines sends itself; no syslog record
// starts with a NUL byte.
const markPrefix = "\x00testenv-syslog-mark "

// syncTimeout bounds how long Lines waits for its own marker.
const syncTimeout = 10 * time.Second

// NewSyslog binds a fresh socket in a new directory under os.TempDir (not
// t.TempDir: its long names do not fit in sun_path) and removes both when
// the test ends.
func NewSyslog(t testing.TB) *Syslog {
	t.Helper()
	dir, err := os.MkdirTemp("", "syslog")
	if err != nil {
		t.Fatalf("syslog sink: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Syslog{Path: filepath.Join(dir, "log"), t: t, changed: make(chan struct{})}
	addr := &net.UnixAddr{Name: s.Path, Net: "unixgram"}
	s.conn, err = net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatalf("syslog sink: bind %s: %v", s.Path, err)
	}
	s.out, err = net.DialUnix("unixgram", nil, addr)
	if err != nil {
		s.conn.Close()
		t.Fatalf("syslog sink: connect to %s: %v", s.Path, err)
	}
	stopped := make(chan struct{})
	go s.read(stopped)
	t.Cleanup(func() {
		s.out.Close()
		s.conn.Close()
		<-stopped
	})
	return s
}

func (s *Syslog) read(stopped chan<- struct{}) {
	defer close(stopped)
	buf := make([]byte, 65536)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			s.mu.Lock()
			s.done = true
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			return
		}
		msg := string(buf[:n])
		s.mu.Lock()
		if seq, ok := strings.CutPrefix(msg, markPrefix); ok {
			if v, err := strconv.ParseUint(seq, 10, 64); err == nil && v > s.seen {
				s.seen = v
				close(s.changed)
				s.changed = make(chan struct{})
			}
		} else {
			s.msgs = append(s.msgs, msg)
		}
		s.mu.Unlock()
	}
}

// sync returns once every datagram queued on the socket before the call has
// been read: it sends a marker and waits for it, and a datagram socket's
// queue is first in, first out. It reports a failure on the test and
// returns early if the marker does not come back.
func (s *Syslog) sync() {
	s.mu.Lock()
	s.marks++
	seq := s.marks
	s.mu.Unlock()
	if _, err := s.out.Write([]byte(markPrefix + strconv.FormatUint(seq, 10))); err != nil {
		s.t.Errorf("syslog sink %s: send marker: %v", s.Path, err)
		return
	}
	timeout := time.NewTimer(syncTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		seen, done, changed := s.seen, s.done, s.changed
		s.mu.Unlock()
		if seen >= seq {
			return
		}
		if done {
			s.t.Errorf("syslog sink %s: closed before marker %d came back", s.Path, seq)
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			s.t.Errorf("syslog sink %s: marker %d not back after %v", s.Path, seq, syncTimeout)
			return
		}
	}
}

// Lines returns every datagram received so far, in order, including every
// one sent before Lines was called.
func (s *Syslog) Lines() []string {
	s.sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// Take is Lines without the datagrams an earlier Take returned.
func (s *Syslog) Take() []string {
	s.sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.msgs[s.taken:]...)
	s.taken = len(s.msgs)
	return out
}
