package stackguard

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

// serverSrc is a deliberately vulnerable forking server: each connection is
// handled in a fork()ed child that copies the request into a 32-byte stack
// buffer byte by byte, then answers "OK". A child whose canary was hit dies
// without answering: that is the attacker's oracle. It prints its port and,
// for the test only, its canary.
const serverSrc = `
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static char req[1024];

static uintptr_t canary(void)
{
	uintptr_t v;
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
	return v;
}

__attribute__((noinline)) static int handle(int fd)
{
	char buf[32];
	ssize_t n = read(fd, req, sizeof req);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		buf[i] = req[i];
	__asm__ volatile("" : : "r"(buf) : "memory"); /* keep the stores */
	return buf[0];
}

int main(void)
{
	prctl(PR_SET_DUMPABLE, 0); /* 20,000 crashes must not dump core */
	signal(SIGCHLD, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 256) ||
	    getsockname(s, (struct sockaddr *)&a, &al)) {
		perror("listen");
		return 1;
	}
	printf("port %d canary %lx\n", ntohs(a.sin_port), (unsigned long)canary());
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		pid_t p = fork();
		if (p == 0) {
			close(s);
			handle(c);
			if (write(c, "OK\n", 3) != 3)
				_exit(1);
			_exit(0);
		}
		close(c);
	}
}
`

type server struct {
	addr   string
	canary uint64
	sink   *testenv.Syslog
}

// alerts counts the stackguard alerts the server's children have sent.
func (s *server) alerts() int {
	n := 0
	for _, l := range s.sink.Lines() {
		if strings.Contains(l, "kind=stackguard") {
			n++
		}
	}
	return n
}

// waitAlerts returns the stackguard alerts counted once at least want have
// arrived, or after five seconds: a crashed child's alert can still be on its
// way when the attacker has seen the connection close.
func waitAlerts(s *server, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := s.alerts()
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startServer(t *testing.T, v variant, withRuntime bool) *server {
	t.Helper()
	return startServerSrc(t, v, withRuntime, serverSrc)
}

// startServerSrc builds and starts a server from src (serverSrc or a
// variant of it) with extra compiler flags.
func startServerSrc(t *testing.T, v variant, withRuntime bool, src string, flags ...string) *server {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "server")
	compile(t, v, src, exe, withRuntime, append([]string{"-O2", "-fstack-protector-strong"}, flags...)...)
	// The sink reads from the start: a queue the children find full
	// would send their alerts to /dev/kmsg instead.
	srv := &server{sink: testenv.NewSyslog(t)}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+srv.sink.Path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 {
		t.Fatalf("server said %q", line)
	}
	srv.addr = "127.0.0.1:" + f[1]
	srv.canary, err = strconv.ParseUint(f[3], 16, 64)
	if err != nil {
		t.Fatalf("server said %q: %v", line, err)
	}
	return srv
}

// send is one request; it reports whether the server answered OK (the child
// survived).
func (s *server) send(t *testing.T, payload []byte) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(payload); err != nil {
		return false
	}
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b) == "OK\n"
}

// attacker is the bounded BROP-style attacker: it learns the distance to
// the canary from the first crashing length, then guesses the canary one
// byte at a time, keeping a byte when the child survives, and starts over
// when no value of a byte survives. Every request after the length probe
// counts as a try; honest requests are sent on the side.
type attacker struct {
	srv     *server
	budget  int
	tries   int
	honest  int
	refused int // honest requests not served
}

func (a *attacker) try(t *testing.T, p []byte) bool {
	a.tries++
	if a.tries%250 == 0 {
		a.honest++
		if !a.srv.send(t, []byte("hello")) {
			a.refused++
		}
	}
	return a.srv.send(t, p)
}

// run returns the recovered canary (little-endian bytes), or nil when the
// budget ran out.
func (a *attacker) run(t *testing.T) []byte {
	off := -1
	for l := 1; l <= 128; l++ {
		if !a.srv.send(t, bytes.Repeat([]byte{'A'}, l)) {
			off = l - 1
			break
		}
	}
	if off < 32 {
		t.Fatalf("length probe: first crash after %d bytes (buffer is 32)", off)
	}
	pad := bytes.Repeat([]byte{'A'}, off)
	for a.tries < a.budget {
		var known []byte
		for len(known) < 8 && a.tries < a.budget {
			found := false
			for g := 0; g < 256 && a.tries < a.budget; g++ {
				p := append(append(append([]byte{}, pad...), known...), byte(g))
				if a.try(t, p) {
					known = append(known, byte(g))
					found = true
					break
				}
			}
			if !found {
				break
			}
		}
		if len(known) == 8 {
			// Confirm, as an attacker would before spending the canary.
			if a.try(t, append(append([]byte{}, pad...), known...)) {
				return known
			}
		}
	}
	return nil
}

func TestBruteForceForkingServer(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		v := variant{cc: cc}
		t.Run(cc+"-plain", func(t *testing.T) {
			srv := startServer(t, v, false)
			a := &attacker{srv: srv, budget: 2048}
			got := a.run(t)
			if got == nil {
				t.Fatalf("plain -fstack-protector-strong: canary not recovered within %d tries", a.budget)
			}
			if c := binary.LittleEndian.Uint64(got); c != srv.canary {
				t.Fatalf("recovered %#x, server's canary is %#x", c, srv.canary)
			}
			t.Logf("plain: canary %#x recovered in %d tries", srv.canary, a.tries)
		})
		t.Run(cc+"-runtime", func(t *testing.T) {
			if testing.Short() {
				t.Skip("20,000 forks and crashes: skipped with -short")
			}
			srv := startServer(t, v, true)
			a := &attacker{srv: srv, budget: 20000}
			if got := a.run(t); got != nil {
				t.Fatalf("with the runtime the attacker recovered %x in %d tries", got, a.tries)
			}
			if a.refused != 0 {
				t.Errorf("%d of %d honest requests were not served", a.refused, a.honest)
			}
			if a.honest < 20000/250 {
				t.Errorf("only %d honest requests sent", a.honest)
			}
			// Nearly every try crashes a child, and each crash is an alert;
			// the last ones may still be in flight on the syslog socket.
			alerts := waitAlerts(srv, a.tries/2)
			if alerts < a.tries/2 {
				t.Errorf("%d stackguard alerts for %d tries", alerts, a.tries)
			}
			t.Logf("runtime: not recovered in %d tries; %d alerts; %d honest requests served", a.tries, alerts, a.honest)
		})
	}
}
