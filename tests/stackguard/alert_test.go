package stackguard

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

// smashSrc overflows a stack buffer byte by byte (no library call that
// FORTIFY could check), so only the canary can see it. argv[1] is the number
// of bytes to copy; with argv[2] == "argv0" it first overwrites the argv[0]
// string, as an attacker who controls the stack could.
const smashSrc = `
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
__attribute__((noinline)) int vuln(const char *src, size_t n)
{
	char buf[16];
	for (size_t i = 0; i < n; i++)
		buf[i] = src[i];
	return buf[0] + buf[n > 1 ? 1 : 0];
}
#ifdef __cplusplus
}
#endif
int main(int argc, char **argv)
{
	static char big[256];
	memset(big, 'A', sizeof big - 1);
	if (argc > 2 && strcmp(argv[2], "argv0") == 0)
		memset(argv[0], 'Z', strlen(argv[0]));
	int r = vuln(big, (size_t)atoi(argv[1]));
	printf("survived %d\n", r);
	return 0;
}
`

// libCallerSrc calls smashSrc's vuln, built into a shared library, with
// argv[1] bytes.
const libCallerSrc = `
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C"
#endif
int vuln(const char *src, size_t n);
int main(int argc, char **argv)
{
	(void)argc;
	static char big[256];
	memset(big, 'B', sizeof big - 1);
	printf("survived %d\n", vuln(big, (size_t)atoi(argv[1])));
	return 0;
}`

func TestStackSmashAlerts(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.String(), func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "smash")
			compile(t, v, smashSrc, exe, true, "-O2", "-fstack-protector-strong", "-g")

			r := run(t, exe, "8")
			if r.signal != 0 || r.code != 0 || len(r.logs) != 0 || strings.Contains(r.stderr, "immunix alert") {
				t.Fatalf("benign run: signal %v exit %d logs %q stderr %q", r.signal, r.code, r.logs, r.stderr)
			}

			r = run(t, exe, "64")
			a := oneAlert(t, r, exe)
			if a.Kind != "stackguard" || a.Msg != "stack canary overwritten" {
				t.Errorf("alert kind=%q msg=%q", a.Kind, a.Msg)
			}
			if _, ok := a.Get("addr"); !ok {
				t.Errorf("alert without addr: %s", a.Body())
			}
			checkInFunction(t, a, exe, "vuln")
		})
	}
}

// TestAlertIgnoresArgv0 overwrites argv[0] (the string and, through exec, the
// name the program was started under): the alert still names the file.
func TestAlertIgnoresArgv0(t *testing.T) {
	v := variant{cc: "gcc"}
	exe := filepath.Join(t.TempDir(), "smash")
	compile(t, v, smashSrc, exe, true, "-O2", "-fstack-protector-strong")
	r := run(t, exe, "64", "argv0")
	a := oneAlert(t, r, exe)
	if strings.Contains(a.Exe, "ZZ") {
		t.Errorf("alert took the overwritten argv[0]: %s", a.Body())
	}

	sink := testenv.NewSyslog(t)
	cmd := exec.Command(exe, "64")
	cmd.Args[0] = "/usr/sbin/innocent"
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "innocent") {
		t.Errorf("alert used argv[0]: %s", out)
	}
	logs := sink.Lines()
	if len(logs) != 1 || !strings.Contains(logs[0], " exe="+exe+" ") {
		t.Errorf("want one alert naming %s, got %q", exe, logs)
	}
}

// TestSharedLibrarySmash: the overflow is in a shared library built by
// immunix-cc, which wraps __stack_chk_fail into the runtime's hidden copy
// and imports glibc's as its plain build does. In a program built by
// immunix-cc and in a plain one alike, the library's own copy raises one
// immunix alert naming the library and an offset inside its function. The
// same library built plainly, inside an immunix program, calls glibc's:
// glibc's message and abort, no alert (the price of every file importing
// glibc's __stack_chk_fail, docs/stackguard.md "What the checkers see").
func TestSharedLibrarySmash(t *testing.T) {
	for _, cc := range []string{"gcc", "clang", "g++", "clang++"} {
		t.Run(cc, func(t *testing.T) {
			v := variant{cc: cc}
			dir := t.TempDir()
			lib := filepath.Join(dir, "libvuln.so")
			libSrc := strings.Replace(smashSrc, "int main(", "static int unused_main(", 1)
			libSrc = strings.Replace(libSrc, "static int unused_main(int argc, char **argv)\n{", "__attribute__((unused)) static int unused_main(int argc, char **argv)\n{", 1)
			compile(t, v, libSrc, lib, true, "-O2", "-fstack-protector-strong", "-fPIC", "-shared", "-g")
			plainDir := filepath.Join(dir, "plain")
			if err := os.Mkdir(plainDir, 0o755); err != nil {
				t.Fatal(err)
			}
			compile(t, v, libSrc, filepath.Join(plainDir, "libvuln.so"), false, "-O2", "-fstack-protector-strong", "-fPIC", "-shared", "-g")
			exe := filepath.Join(dir, "prog-immunix-plainlib")
			compile(t, v, libCallerSrc, exe, true, "-O2", "-fstack-protector-strong", lateFlags, "-L"+plainDir, "-lvuln", "-Wl,-rpath,"+plainDir)
			if r := run(t, exe, "80"); r.signal != syscall.SIGABRT || len(r.logs) != 0 || strings.Contains(r.stderr, "immunix alert") ||
				!strings.Contains(r.stderr, "*** stack smashing detected ***") {
				t.Errorf("plain library in an immunix program: want glibc's stack smashing message and SIGABRT, no alert; got signal %v logs %q stderr %q", r.signal, r.logs, r.stderr)
			}
			for _, immunix := range []bool{true, false} {
				exe := filepath.Join(dir, "prog-plain")
				if immunix {
					exe = filepath.Join(dir, "prog-immunix")
				}
				compile(t, v, libCallerSrc, exe, immunix, "-O2", "-fstack-protector-strong", lateFlags, "-L"+dir, "-lvuln", "-Wl,-rpath,"+dir)
				if r := run(t, exe, "4"); r.signal != 0 || len(r.logs) != 0 {
					t.Fatalf("%s, benign run: %+v", exe, r)
				}
				r := run(t, exe, "80")
				a := oneAlert(t, r, exe)
				if a.Kind != "stackguard" {
					t.Errorf("alert kind=%q: %s", a.Kind, a.Body())
				}
				if obj, _ := a.Get("obj"); obj != lib {
					t.Errorf("alert obj=%q, want %q: %s", obj, lib, a.Body())
				}
				checkInFunction(t, a, lib, "vuln")
			}
		})
	}
}

// TestSharedLibraryLinksLibcFirst: a shared library whose link names -lc
// itself, before the runtime archive immunix-cc appends (zlib's "... *.lo
// -lc"). For 32-bit PIC code gcc and clang call the hidden
// __stack_chk_fail_local, which libc_nonshared.a (in the libc.so linker
// script) also defines: the link took glibc's copy at -lc, then the
// runtime's object for __wrap___stack_chk_fail, and failed with "multiple
// definition of __stack_chk_fail_local" (Debian's zlib rebuild). Both names
// are wrapped now: the link succeeds and the library's smash raises the
// runtime's alert inside vuln, not inside glibc's copy.
func TestSharedLibraryLinksLibcFirst(t *testing.T) {
	for _, v := range []variant{{cc: "gcc"}, {cc: "clang"}, {cc: "gcc", abi: []string{"-m32"}}, {cc: "clang", abi: []string{"-m32"}}} {
		t.Run(v.String(), func(t *testing.T) {
			dir := t.TempDir()
			lib := filepath.Join(dir, "libvuln.so")
			libSrc := strings.Replace(smashSrc, "int main(", "__attribute__((unused)) static int unused_main(", 1)
			// compile fails the test on a link error, before it skips
			// where the kernel cannot run the ABI.
			compile(t, v, libSrc, lib, true, "-O2", "-fstack-protector-strong", "-fPIC", "-shared", lateFlags, "-lc")
			exe := filepath.Join(dir, "prog-plain")
			compile(t, v, libCallerSrc, exe, false, "-O2", lateFlags, "-L"+dir, "-lvuln", "-Wl,-rpath,"+dir)
			if r := run(t, exe, "4"); r.signal != 0 || len(r.logs) != 0 {
				t.Fatalf("benign run: %+v", r)
			}
			a := oneAlert(t, run(t, exe, "80"), exe)
			if obj, _ := a.Get("obj"); obj != lib {
				t.Errorf("alert obj=%q, want %q: %s", obj, lib, a.Body())
			}
			checkInFunction(t, a, lib, "vuln")
		})
	}
}

// fortifySrc overflows through a fortified call chosen by argv[1], with a
// length known only at run time.
const fortifySrc = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) void do_memcpy(size_t n) { char d[8]; char s[64] = {0}; memcpy(d, s, n); puts(d); }
__attribute__((noinline)) void do_strcpy(const char *s) { char d[8]; strcpy(d, s); puts(d); }
__attribute__((noinline)) void do_sprintf(const char *s) { char d[8]; sprintf(d, "<%s>", s); puts(d); }
__attribute__((noinline)) void do_snprintf(size_t n) { char d[8]; snprintf(d, n, "%s", "x"); puts(d); }
int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	const char *what = argv[1], *arg = argv[2];
	if (!strcmp(what, "memcpy")) do_memcpy((size_t)atoi(arg));
	else if (!strcmp(what, "strcpy")) do_strcpy(arg);
	else if (!strcmp(what, "sprintf")) do_sprintf(arg);
	else if (!strcmp(what, "snprintf")) do_snprintf((size_t)atoi(arg));
	return 0;
}
`

func TestFortifyAlerts(t *testing.T) {
	cases := []struct {
		what, ok, bad, check, fn string
		cxxVarargs               bool // needs __builtin_va_arg_pack in C++
	}{
		{"memcpy", "8", "9", "__memcpy_chk", "do_memcpy", false},
		{"strcpy", "1234567", "12345678", "__strcpy_chk", "do_strcpy", false},
		{"sprintf", "12345", "123456", "__sprintf_chk", "do_sprintf", true},
		{"snprintf", "8", "9", "__snprintf_chk", "do_snprintf", true},
	}
	for _, v := range variants() {
		for _, level := range []string{"2", "3"} {
			t.Run(fmt.Sprintf("%s-F%s", v, level), func(t *testing.T) {
				exe := filepath.Join(t.TempDir(), "fort")
				compile(t, v, fortifySrc, exe, true, "-O2", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE="+level, "-Wno-stringop-overflow", "-Wno-format-overflow", "-Wno-fortify-source")
				for _, c := range cases {
					if c.cxxVarargs && v.cc == "clang++" {
						// glibc fortifies sprintf in C++ only with
						// __builtin_va_arg_pack, which clang lacks: the
						// call is not checked at all, with or without
						// the runtime.
						continue
					}
					if r := run(t, exe, c.what, c.ok); r.signal != 0 || r.code != 0 || len(r.logs) != 0 {
						t.Errorf("%s %s (fits): signal %v exit %d logs %q", c.what, c.ok, r.signal, r.code, r.logs)
						continue
					}
					a := oneAlert(t, run(t, exe, c.what, c.bad), exe)
					if a.Kind != "fortify" {
						t.Errorf("%s: kind=%q", c.what, a.Kind)
					}
					if got, _ := a.Get("check"); got != c.check {
						t.Errorf("%s: check=%q, want %q (%s)", c.what, got, c.check, a.Body())
					}
					checkInFunction(t, a, exe, c.fn)
				}
			})
		}
	}
}

// TestNoSyslogStillReports: with the syslog socket missing, the alert goes
// to the kernel log (/dev/kmsg) and to stderr, and the process still dies of
// SIGABRT.
//
// The kernel-log record must be readable as soon as the runtime has written
// it. A record written without a trailing newline is not: the kernel keeps
// it open for continuation and readers see it only once a later printk
// closes it. Such a later printk usually comes from the halt itself (with
// kernel audit on, the ANOM_ABEND record of the dying process), so the test
// looks while the process is still alive: its stderr is a full pipe, and
// the runtime, which writes the kernel log before stderr, is held in that
// write until the test has read the kernel log.
func TestNoSyslogStillReports(t *testing.T) {
	v := variant{cc: "clang"}
	exe := filepath.Join(t.TempDir(), "smash")
	compile(t, v, smashSrc, exe, true, "-O2", "-fstack-protector-strong")

	// Only records written from now on.
	kmsg, kmsgErr := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if kmsgErr == nil {
		defer syscall.Close(kmsg)
		if _, err := syscall.Seek(kmsg, 0, io.SeekEnd); err != nil {
			t.Fatalf("seek to the end of /dev/kmsg: %v", err)
		}
	}

	stderrR, stderrW, filled := fullPipe(t)
	defer stderrR.Close()
	cmd := exec.Command(exe, "64")
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+filepath.Join(t.TempDir(), "absent"))
	cmd.Stderr = stderrW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderrW.Close()
	pid := cmd.Process.Pid
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	if err := waitBlockedOnStderr(pid, 10*time.Second); err != nil {
		t.Fatalf("the program did not reach its stderr write: %v", err)
	}
	var record string
	if kmsgErr == nil {
		record = kmsgRecord(t, kmsg, fmt.Sprintf("immunix[%d]: ", pid))
	}

	// EOF when the program is gone: the test closed its copy of w.
	stderr, rerr := io.ReadAll(stderrR)
	err := cmd.Wait()
	waited = true
	if rerr != nil {
		t.Fatalf("read stderr: %v", rerr)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGABRT {
		t.Fatalf("want SIGABRT, got %v", err)
	}
	if len(stderr) < filled || strings.Trim(string(stderr[:filled]), ".") != "" {
		t.Fatalf("stderr lost the test's %d filler bytes: got %d bytes", filled, len(stderr))
	}
	line := string(stderr[filled:])
	wantBody := fmt.Sprintf("immunix alert: kind=stackguard exe=%s pid=%d ", exe, pid)
	if !strings.HasPrefix(line, wantBody) || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("stderr alert %q, want one line starting %q", line, wantBody)
	}

	if kmsgErr != nil {
		testenv.KernelLacks(t, "stderr and SIGABRT verified; the kernel log (/dev/kmsg) cannot be read here to verify the fallback: "+kmsgErr.Error())
		return
	}
	// PRI 81 (authpriv.alert), the same body as on stderr.
	want := fmt.Sprintf("81;immunix[%d]: %s", pid, strings.TrimSuffix(line, "\n"))
	if record != want {
		t.Errorf("kernel log record (level;text) while the program was alive:\n got %q\nwant %q", record, want)
	}
}

// fullPipe returns a pipe whose buffer the test has filled with filled '.'
// bytes, so that the next write to w blocks until r is read. w is in
// blocking mode, as a child's stderr is.
func fullPipe(t *testing.T) (r, w *os.File, filled int) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	if err := syscall.SetNonblock(p[1], true); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("."), 4096)
	for _, size := range []int{4096, 1} {
		for {
			n, err := syscall.Write(p[1], chunk[:size])
			if err == syscall.EAGAIN {
				break
			}
			if err != nil {
				t.Fatalf("fill pipe: %v", err)
			}
			filled += n
		}
	}
	if err := syscall.SetNonblock(p[1], false); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(p[0]), "stderr-r"), os.NewFile(uintptr(p[1]), "stderr-w"), filled
}

// waitBlockedOnStderr waits until process pid sits in writev(2, ...), as
// /proc/PID/syscall shows.
func waitBlockedOnStderr(pid int, limit time.Duration) error {
	want := fmt.Sprintf("%d 0x2 ", syscall.SYS_WRITEV)
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		if err != nil {
			return err
		}
		last = string(b)
		if strings.HasPrefix(last, want) {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("after %v, /proc/%d/syscall says %q, want %q...", limit, pid, last, want)
}

// kmsgRecord reads the kernel log from fd (non-blocking /dev/kmsg) and
// returns "LEVEL;TEXT" of the one record whose text starts with prefix, or
// "" when there is none. A record another CPU is still writing hides the
// ones after it for a moment, so an empty read is tried again for a few
// milliseconds; a record that is readable at all is readable by then.
func kmsgRecord(t *testing.T, fd int, prefix string) string {
	t.Helper()
	buf := make([]byte, 16384)
	var found []string
	deadline := time.Now().Add(50 * time.Millisecond)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EPIPE:
			t.Logf("kernel log records were overwritten while reading")
			continue
		case err == syscall.EAGAIN:
			if len(found) > 0 || time.Now().After(deadline) {
				if len(found) > 1 {
					t.Errorf("%d kernel log records start with %q: %q", len(found), prefix, found)
				}
				if len(found) == 0 {
					return ""
				}
				return found[0]
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			t.Fatalf("read /dev/kmsg: %v", err)
		}
		// "PRI,SEQ,USEC,FLAGS[,...];TEXT\n" then optional " KEY=VALUE" lines.
		rec := string(buf[:n])
		head, text, ok := strings.Cut(rec, ";")
		if !ok {
			t.Fatalf("kernel log record without ';': %q", rec)
		}
		text, _, _ = strings.Cut(text, "\n")
		if strings.HasPrefix(text, prefix) {
			pri, _, _ := strings.Cut(head, ",")
			found = append(found, pri+";"+text)
		}
	}
}

// TestAlertEscapesProgramName: a program whose path holds a space, a
// backslash and control bytes is named in one token, escaped as the
// contract says, and reads back as the real path.
func TestAlertEscapesProgramName(t *testing.T) {
	v := variant{cc: "gcc"}
	dir := filepath.Join(t.TempDir(), "we ird\\dir\x01\t")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sm\xc3\xa9sh")
	compile(t, v, smashSrc, exe, true, "-O2")
	res := run(t, exe, "64")
	oneAlert(t, res, exe) // parses exe= back to the real path
	if !strings.Contains(res.logs[0], ` exe=`+filepath.Dir(dir)+`/we\x20ird\x5cdir\x01\x09/sm\xc3\xa9sh pid=`) {
		t.Errorf("exe not escaped as the contract says: %s", res.logs[0])
	}
}

// TestHaltDespiteClosedStderr: stderr is a pipe nobody reads any more; the
// alert's write must not kill the process with SIGPIPE before the halt.
func TestHaltDespiteClosedStderr(t *testing.T) {
	v := variant{cc: "gcc"}
	exe := filepath.Join(t.TempDir(), "smash")
	compile(t, v, smashSrc, exe, true, "-O2")
	sink := testenv.NewSyslog(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	cmd := exec.Command(exe, "64")
	cmd.Stderr = w
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGABRT {
		t.Fatalf("want SIGABRT, got %v", err)
	}
	if logs := sink.Lines(); len(logs) != 1 {
		t.Errorf("want one alert, got %q", logs)
	}
}
