package stackguard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/guardlib"
)

// chkSrc calls one fortified function, chosen by argv[1], on an 8-byte (or
// 8-element) destination with a size argv[2] known only at run time, then
// prints the return value and the destination. Built with and without the
// runtime, the two must agree on every case: same abort, or same output.
const chkSrc = `
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wchar.h>
#include <fcntl.h>

static char d[8];
static wchar_t w[8];
static char src[64];
static wchar_t wsrc[64];

static void show(long r)
{
	printf("r=%ld d=", r);
	for (size_t i = 0; i < sizeof d; i++)
		printf("%02x", (unsigned char)d[i]);
	printf(" w=");
	for (size_t i = 0; i < 8; i++)
		printf("%x,", (unsigned)w[i]);
	printf("\n");
}

static int vsp(const char *fmt, ...) { va_list ap; va_start(ap, fmt); int r = vsprintf(d, fmt, ap); va_end(ap); return r; }
static int vsnp(size_t n, const char *fmt, ...) { va_list ap; va_start(ap, fmt); int r = vsnprintf(d, n, fmt, ap); va_end(ap); return r; }
static int vswp(size_t n, const wchar_t *fmt, ...) { va_list ap; va_start(ap, fmt); int r = vswprintf(w, n, fmt, ap); va_end(ap); return r; }

int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	const char *c = argv[1];
	size_t n = (size_t)atol(argv[2]);
	memset(src, 'x', sizeof src - 1);
	wmemset(wsrc, L'y', 63);
	/* a string of length n */
	char *s = src + (sizeof src - 1 - (n < sizeof src ? n : sizeof src - 1));
	wchar_t *ws = wsrc + (63 - (n < 63 ? n : 63));
	long r = 0;
	int fds[2];
	if (!strcmp(c, "memcpy")) r = (long)(memcpy(d, src, n) == d);
	else if (!strcmp(c, "memmove")) r = (long)(memmove(d, src, n) == d);
	else if (!strcmp(c, "mempcpy")) r = (char *)mempcpy(d, src, n) - d;
	else if (!strcmp(c, "memset")) r = (long)(memset(d, 'z', n) == d);
	else if (!strcmp(c, "explicit_bzero")) { memset(d, 1, sizeof d); explicit_bzero(d, n); }
	else if (!strcmp(c, "bzero")) { memset(d, 1, sizeof d); bzero(d, n); }
	else if (!strcmp(c, "strcpy")) r = (long)(strcpy(d, s) == d);
	else if (!strcmp(c, "stpcpy")) r = stpcpy(d, s) - d;
	else if (!strcmp(c, "strncpy")) r = (long)(strncpy(d, "abc", n) == d);
	else if (!strcmp(c, "stpncpy")) r = stpncpy(d, "abc", n) - d;
	else if (!strcmp(c, "strcat")) { strcpy(d, "ab"); r = (long)(strcat(d, s) == d); }
	else if (!strcmp(c, "strncat")) { strcpy(d, "ab"); r = (long)(strncat(d, src, n) == d); }
	else if (!strcmp(c, "wmemcpy")) r = (long)(wmemcpy(w, wsrc, n) == w);
	else if (!strcmp(c, "wmemmove")) r = (long)(wmemmove(w, wsrc, n) == w);
	else if (!strcmp(c, "wmempcpy")) r = wmempcpy(w, wsrc, n) - w;
	else if (!strcmp(c, "wmemset")) r = (long)(wmemset(w, L'q', n) == w);
	else if (!strcmp(c, "wcscpy")) r = (long)(wcscpy(w, ws) == w);
	else if (!strcmp(c, "wcpcpy")) r = wcpcpy(w, ws) - w;
	else if (!strcmp(c, "wcsncpy")) r = (long)(wcsncpy(w, L"abc", n) == w);
	else if (!strcmp(c, "wcpncpy")) r = wcpncpy(w, L"abc", n) - w;
	else if (!strcmp(c, "wcscat")) { wcscpy(w, L"ab"); r = (long)(wcscat(w, ws) == w); }
	else if (!strcmp(c, "wcsncat")) { wcscpy(w, L"ab"); r = (long)(wcsncat(w, wsrc, n) == w); }
	else if (!strcmp(c, "sprintf")) r = sprintf(d, "%s", s);
	else if (!strcmp(c, "vsprintf")) r = vsp("%s", s);
	else if (!strcmp(c, "snprintf")) r = snprintf(d, n, "%s", "abcdefghijk");
	else if (!strcmp(c, "vsnprintf")) r = vsnp(n, "%s", "abcdefghijk");
	else if (!strcmp(c, "swprintf")) r = swprintf(w, n, L"%ls", L"abc");
	else if (!strcmp(c, "vswprintf")) r = vswp(n, L"%ls", L"abc");
	else if (!strcmp(c, "read")) { int fd = open("/dev/zero", O_RDONLY); r = read(fd, d, n); }
	else if (!strcmp(c, "pread")) { int fd = open("/dev/zero", O_RDONLY); r = pread(fd, d, n, 0); }
	else if (!strcmp(c, "recv")) { socketpair(AF_UNIX, SOCK_STREAM, 0, fds); write(fds[1], src, 20); r = recv(fds[0], d, n, 0); }
	else if (!strcmp(c, "recvfrom")) { socketpair(AF_UNIX, SOCK_DGRAM, 0, fds); write(fds[1], src, 20); r = recvfrom(fds[0], d, n, 0, NULL, NULL); }
	else if (!strcmp(c, "readlink")) r = readlink("/proc/self/cwd", d, n);
	else if (!strcmp(c, "readlinkat")) r = readlinkat(AT_FDCWD, "/proc/self/cwd", d, n);
	else if (!strcmp(c, "getcwd")) { chdir("/"); r = getcwd(d, n) != NULL; }
	else if (!strcmp(c, "confstr")) r = (long)confstr(_CS_PATH, d, n);
	else if (!strcmp(c, "getgroups")) { gid_t g[2]; r = getgroups((int)n, g) >= -1; }
	else if (!strcmp(c, "gethostname")) r = gethostname(d, n) == 0 || 1;
	else if (!strcmp(c, "getdomainname")) r = getdomainname(d, n) == 0 || 1;
	else if (!strcmp(c, "ttyname_r")) r = ttyname_r(-1, d, n);
	else if (!strcmp(c, "getlogin_r")) r = getlogin_r(d, n) >= 0;
	else if (!strcmp(c, "ptsname_r")) r = ptsname_r(-1, d, n);
	else if (!strcmp(c, "poll")) { struct pollfd p[1] = {{.fd = -1}}; r = poll(p, n, 0); }
	else if (!strcmp(c, "ppoll")) { struct pollfd p[1] = {{.fd = -1}}; struct timespec ts = {0, 0}; r = ppoll(p, n, &ts, NULL); }
	else if (!strcmp(c, "FD_SET")) { fd_set set; FD_ZERO(&set); FD_SET((int)n, &set); r = FD_ISSET((int)n, &set); }
	else if (!strcmp(c, "fgets") || !strcmp(c, "fgets_unlocked")) {
		FILE *f = fmemopen((void *)"abcdefghijkl\nxy\n", 16, "r");
		char *p = c[5] ? fgets_unlocked(d, (int)n, f) : fgets(d, (int)n, f);
		r = p ? (long)strlen(p) : -1;
	}
	else if (!strcmp(c, "fgets_short")) { FILE *f = fmemopen((void *)"abc\n", 4, "r"); char *p = fgets(d, (int)n, f); r = p ? (long)strlen(p) : -1; }
	else if (!strcmp(c, "fgets_eof")) { FILE *f = fmemopen((void *)"abcdefg", 7, "r"); char *p = fgets(d, (int)n, f); r = p ? (long)strlen(p) : -1; }
	else if (!strcmp(c, "fread")) { FILE *f = fopen("/dev/zero", "r"); r = (long)fread(d, 1, n, f); }
	else if (!strcmp(c, "fread_unlocked")) { FILE *f = fopen("/dev/zero", "r"); r = (long)fread_unlocked(d, 2, n, f); }
	else if (!strcmp(c, "mbstowcs")) r = (long)mbstowcs(w, "abcdefghijk", n);
	else if (!strcmp(c, "wcstombs")) r = (long)wcstombs(d, L"abcdefghijk", n);
	else if (!strcmp(c, "mbsrtowcs")) { const char *p = "abcdefghijk"; mbstate_t st = {0}; r = (long)mbsrtowcs(w, &p, n, &st); }
	else if (!strcmp(c, "wcsrtombs")) { const wchar_t *p = L"abcdefghijk"; mbstate_t st = {0}; r = (long)wcsrtombs(d, &p, n, &st); }
	else if (!strcmp(c, "mbsnrtowcs")) { const char *p = "abcdefghijk"; mbstate_t st = {0}; r = (long)mbsnrtowcs(w, &p, 20, n, &st); }
	else if (!strcmp(c, "wcsnrtombs")) { const wchar_t *p = L"abcdefghijk"; mbstate_t st = {0}; r = (long)wcsnrtombs(d, &p, 20, n, &st); }
	else if (!strcmp(c, "realpath")) { char *p = realpath("/", d); r = p != NULL; }
	else if (!strcmp(c, "realpath_big")) { static char big[PATH_MAX]; char *p = realpath("/", big); r = p != NULL; }
	else { fprintf(stderr, "unknown case %s\n", c); return 2; }
	show(r);
	return 0;
}
`

// chkCases: each function with sizes on both sides of its limit.
var chkCases = []struct {
	name  string
	sizes []int
	check string // the entry point the alert must name ("" when it has none)
}{
	{"memcpy", []int{0, 8, 9}, "__memcpy_chk"},
	{"memmove", []int{8, 9}, "__memmove_chk"},
	{"mempcpy", []int{8, 9}, "__mempcpy_chk"},
	{"memset", []int{8, 9}, "__memset_chk"},
	{"explicit_bzero", []int{8, 9}, "__explicit_bzero_chk"},
	{"bzero", []int{8, 9}, "__memset_chk"},
	{"strcpy", []int{0, 7, 8}, "__strcpy_chk"},
	{"stpcpy", []int{7, 8}, "__stpcpy_chk"},
	{"strncpy", []int{2, 8, 9}, "__strncpy_chk"},
	{"stpncpy", []int{2, 8, 9}, "__stpncpy_chk"},
	{"strcat", []int{5, 6}, "__strcat_chk"},
	{"strncat", []int{5, 6, 7}, "__strncat_chk"},
	{"wmemcpy", []int{8, 9}, "__wmemcpy_chk"},
	{"wmemmove", []int{8, 9}, "__wmemmove_chk"},
	{"wmempcpy", []int{8, 9}, "__wmempcpy_chk"},
	{"wmemset", []int{8, 9}, "__wmemset_chk"},
	{"wcscpy", []int{7, 8}, "__wcscpy_chk"},
	{"wcpcpy", []int{7, 8}, "__wcpcpy_chk"},
	{"wcsncpy", []int{8, 9}, "__wcsncpy_chk"},
	{"wcpncpy", []int{8, 9}, "__wcpncpy_chk"},
	{"wcscat", []int{5, 6}, "__wcscat_chk"},
	{"wcsncat", []int{5, 6}, "__wcsncat_chk"},
	{"sprintf", []int{0, 7, 8}, "__sprintf_chk"},
	{"vsprintf", []int{7, 8}, "__vsprintf_chk"},
	{"snprintf", []int{0, 1, 8, 9}, "__snprintf_chk"},
	{"vsnprintf", []int{8, 9}, "__vsnprintf_chk"},
	{"swprintf", []int{3, 8, 9}, "__swprintf_chk"},
	{"vswprintf", []int{8, 9}, "__vswprintf_chk"},
	{"read", []int{8, 9}, "__read_chk"},
	{"pread", []int{8, 9}, "__pread_chk"},
	{"recv", []int{8, 9}, "__recv_chk"},
	{"recvfrom", []int{8, 9}, "__recvfrom_chk"},
	{"readlink", []int{8, 9}, "__readlink_chk"},
	{"readlinkat", []int{8, 9}, "__readlinkat_chk"},
	{"getcwd", []int{8, 9}, "__getcwd_chk"},
	{"confstr", []int{8, 9}, "__confstr_chk"},
	{"getgroups", []int{0, 2, 3}, "__getgroups_chk"},
	{"gethostname", []int{8, 9}, "__gethostname_chk"},
	{"getdomainname", []int{8, 9}, "__getdomainname_chk"},
	{"ttyname_r", []int{8, 9}, "__ttyname_r_chk"},
	{"getlogin_r", []int{8, 9}, "__getlogin_r_chk"},
	{"ptsname_r", []int{8, 9}, "__ptsname_r_chk"},
	{"poll", []int{1, 2}, "__poll_chk"},
	{"ppoll", []int{1, 2}, "__ppoll_chk"},
	{"FD_SET", []int{3, 1023, 1024}, "__fdelt_chk"},
	{"fgets", []int{1, 8, 9, 20}, "__fgets_chk"},
	{"fgets_unlocked", []int{8, 9}, "__fgets_unlocked_chk"},
	{"fgets_short", []int{20}, "__fgets_chk"},
	{"fgets_eof", []int{20}, "__fgets_chk"},
	{"fread", []int{8, 9}, "__fread_chk"},
	{"fread_unlocked", []int{4, 5}, "__fread_unlocked_chk"},
	{"mbstowcs", []int{8, 9}, "__mbstowcs_chk"},
	{"wcstombs", []int{8, 9}, "__wcstombs_chk"},
	{"mbsrtowcs", []int{8, 9}, "__mbsrtowcs_chk"},
	{"wcsrtombs", []int{8, 9}, "__wcsrtombs_chk"},
	{"mbsnrtowcs", []int{8, 9}, "__mbsnrtowcs_chk"},
	{"wcsnrtombs", []int{8, 9}, "__wcsnrtombs_chk"},
	{"realpath", []int{0}, "__realpath_chk"},
	{"realpath_big", []int{0}, "__realpath_chk"},
}

// TestFortifyMatchesGlibc is a differential test: every covered __*_chk,
// on both sides of its limit, built once against glibc's checks and once
// with the runtime's. Both must abort in the same cases (glibc with its
// message, the runtime with a fortify alert naming the function), and
// print the same results otherwise.
func TestFortifyMatchesGlibc(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		for _, level := range []string{"2", "3"} {
			t.Run(cc+"-F"+level, func(t *testing.T) {
				v := variant{cc: cc}
				dir := t.TempDir()
				flags := []string{"-O2", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=" + level, "-w"}
				glibc := filepath.Join(dir, "glibc")
				compile(t, v, chkSrc, glibc, false, flags...)
				la, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{cc}})
				if err != nil {
					t.Fatal(err)
				}
				ours := filepath.Join(dir, "ours")
				compile(t, v, chkSrc, ours, false, append(append(flags, lateFlags), la...)...)
				aborts := 0
				for _, c := range chkCases {
					for _, n := range c.sizes {
						arg := fmt.Sprint(n)
						g := runPlain(t, glibc, c.name, arg)
						r := run(t, ours, c.name, arg)
						gAbort := g.signal == syscall.SIGABRT && strings.Contains(g.stderr, "*** ")
						rAbort := r.signal == syscall.SIGABRT
						switch {
						case gAbort != rAbort:
							t.Errorf("%s(%d): glibc aborts=%v (signal %v, %q), runtime aborts=%v (signal %v, %q)", c.name, n, gAbort, g.signal, g.stderr, rAbort, r.signal, r.stderr)
						case rAbort:
							aborts++
							a := oneAlert(t, r, ours)
							if got, _ := a.Get("check"); a.Kind != "fortify" || got != c.check {
								t.Errorf("%s(%d): alert %s, want kind=fortify check=%s", c.name, n, a.Body(), c.check)
							}
						default:
							if g.signal != 0 || r.signal != 0 || g.stdout != r.stdout || len(r.logs) != 0 {
								t.Errorf("%s(%d): glibc %q (signal %v), runtime %q (signal %v, logs %q)", c.name, n, g.stdout, g.signal, r.stdout, r.signal, r.logs)
							}
						}
					}
				}
				// clang 14 fortifies fewer calls (no __builtin_va_arg_pack,
				// so no sprintf family, among others).
				want := len(chkCases) - 3
				if cc == "clang" {
					want = 18
				}
				if aborts < want {
					t.Errorf("only %d aborting cases, want %d: the calls are probably not fortified", aborts, want)
				}
			})
		}
	}
}

// runPlain runs exe without a syslog sink (the glibc build has no runtime).
func runPlain(t *testing.T, exe string, args ...string) result {
	t.Helper()
	cmd := exec.Command(exe, args...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.Env = append(os.Environ(), "LIBC_FATAL_STDERR_=1")
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	r := result{pid: cmd.Process.Pid, stdout: so.String(), stderr: se.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.signal = ws.Signal()
	} else {
		r.code = ws.ExitStatus()
	}
	return r
}
