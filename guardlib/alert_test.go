package guardlib

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/testenv"
)

// harnessSrc calls the C alert writer with its arguments: kind, addr (hex),
// extra ("-" for none), msg.
const harnessSrc = `
#include <stdlib.h>
#include <string.h>
void __immunix_alert(const char *kind, const void *addr, const char *extra, const char *msg);
int main(int argc, char **argv)
{
	if (argc != 5) return 2;
	__immunix_alert(argv[1], (const void *)strtoul(argv[2], NULL, 16), strcmp(argv[3], "-") ? argv[3] : NULL, argv[4]);
	return 0;
}
`

var (
	harnessOnce sync.Once
	harnessExe  string
	harnessErr  error
)

func harness(t testing.TB) string {
	t.Helper()
	testenv.NeedsTool(t, "gcc")
	harnessOnce.Do(func() {
		dir, err := os.MkdirTemp("", "immunix-alert-harness-")
		if err != nil {
			harnessErr = err
			return
		}
		if err := Build(Target{Compiler: []string{"gcc"}}, dir, BuildOptions{Werror: true}); err != nil {
			harnessErr = err
			return
		}
		src := filepath.Join(dir, "h.c")
		os.WriteFile(src, []byte(harnessSrc), 0o644)
		harnessExe = filepath.Join(dir, "h")
		out, err := exec.Command("gcc", "-O2", src, "-o", harnessExe, "-Wl,-u,"+InitSymbol, filepath.Join(dir, ArchiveName)).CombinedOutput()
		if err != nil {
			harnessErr = fmt.Errorf("link harness: %v\n%s", err, out)
		}
	})
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return harnessExe
}

// writeAlert runs the harness and returns the syslog datagram and stderr.
func writeAlert(t testing.TB, kind string, addr uint64, extra, msg string) (string, string, int) {
	t.Helper()
	exe := harness(t)
	dir, err := os.MkdirTemp("", "al")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd := exec.Command(exe, kind, fmt.Sprintf("%x", addr), extra, msg)
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sock)
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n]), se.String(), cmd.Process.Pid
}

// checkAlert compares the C writer's output with the contract, as the Go
// alert package (the reader) escapes and parses it.
func checkAlert(t testing.TB, kind string, addr uint64, extra, msg string) {
	t.Helper()
	rec, stderr, pid := writeAlert(t, kind, addr, extra, msg)
	exe, _ := filepath.EvalSymlinks(harness(t))
	body := "immunix alert: kind=" + alert.Escape(kind) + " exe=" + alert.Escape(exe) + fmt.Sprintf(" pid=%d uid=%d", pid, os.Getuid())
	if addr != 0 {
		body += fmt.Sprintf(" addr=%#x", addr)
	}
	if extra != "-" {
		body += extra
	}
	body += " msg=" + alert.EscapeMsg(msg)
	if want := fmt.Sprintf("<81>immunix[%d]: %s", pid, body); rec != want {
		t.Errorf("syslog record\n got %q\nwant %q", rec, want)
	}
	if stderr != body+"\n" {
		t.Errorf("stderr\n got %q\nwant %q", stderr, body+"\n")
	}
	var p alert.Parser
	a, err := p.ParseLine(rec)
	if err != nil {
		t.Fatalf("reader rejects %q: %v", rec, err)
	}
	if a.Kind != kind || a.Msg != msg || a.PID != pid || a.Exe != exe {
		t.Errorf("read back kind=%q msg=%q pid=%d exe=%q", a.Kind, a.Msg, a.PID, a.Exe)
	}
}

func TestAlertWriter(t *testing.T) {
	for _, c := range []struct {
		kind  string
		addr  uint64
		extra string
		msg   string
	}{
		{"stackguard", 0x401196, " off=0x1196", "stack canary overwritten"},
		{"fortify", 0x7f0000001234, " off=0x1234 check=__memcpy_chk", "buffer overflow detected"},
		{"formatguard", 0, "-", "format demands 3 arguments, 1 given"},
		{"stackguard", 0, "-", "tab\there, newline\nthere, back\\slash, DEL\x7f, é"},
		{"we ird\\kind", 1, "-", ""},
	} {
		checkAlert(t, c.kind, c.addr, c.extra, c.msg)
	}
}

// FuzzAlertWriter: any kind and msg (within the writer's buffer sizes, and
// without NUL, which argv cannot carry) comes out escaped exactly as the Go
// reader expects and reads back unchanged.
func FuzzAlertWriter(f *testing.F) {
	f.Add("stackguard", uint64(0x401196), "stack canary overwritten")
	f.Add("fortify", uint64(0), "\x01\x02 \\x41 \xff")
	f.Add("k\tk", uint64(1<<40), "msg=still msg")
	f.Fuzz(func(t *testing.T, kind string, addr uint64, msg string) {
		if kind == "" || len(kind) > 16 || len(msg) > 200 || strings.ContainsRune(kind+msg, 0) {
			t.Skip()
		}
		checkAlert(t, kind, addr, "-", msg)
	})
}
