package subdomain_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/enforce"
)

// attackC runs the ways out of a confinement that issue 13 found, one
// operation after another, printing "OP RESULT" for each: ok (with a
// detail) or the errno name. It is learned doing honest things, then
// run confined doing the attacks.
const attackC = `
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 8
#endif

static void res(const char *op, int ok, const char *detail) {
	if (ok) printf("%s ok %s\n", op, detail ? detail : "");
	else printf("%s %s\n", op, strerrorname_np(errno));
	fflush(stdout);
}

static struct sockaddr_in lo(int port) {
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(int argc, char **argv) {
	char buf[4096];
	if (argc == 2 && strcmp(argv[1], "hello") == 0) {
		printf("hello ok from an anonymous file\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		if (!strcmp(op, "opendir")) {
			DIR *d = opendir(argv[++i]);
			res(op, d != NULL, NULL);
			if (d) closedir(d);
		} else if (!strcmp(op, "read")) {
			int fd = open(argv[++i], O_RDONLY);
			ssize_t n = fd < 0 ? -1 : read(fd, buf, 20);
			if (n >= 0) { buf[n] = 0; for (char *p = buf; *p; p++) if (*p == '\n' || *p == ' ') *p = '_'; }
			res(op, n >= 0, buf);
			if (fd >= 0) close(fd);
		} else if (!strcmp(op, "writeback")) {
			/* write the file's own content back: proves write access
			 * without changing anything (/proc/sys, oom_score_adj) */
			const char *path = argv[++i];
			int fd = open(path, O_RDONLY);
			ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
			if (fd >= 0) close(fd);
			if (n < 0) { res(op, 0, NULL); continue; }
			fd = open(path, O_WRONLY);
			res(op, fd >= 0 && write(fd, buf, n) == n, NULL);
			if (fd >= 0) close(fd);
		} else if (!strcmp(op, "create")) {
			int fd = open(argv[++i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
			res(op, fd >= 0 && write(fd, "x\n", 2) == 2, NULL);
			if (fd >= 0) close(fd);
		} else if (!strcmp(op, "creatsuid")) {
			int fd = open(argv[++i], O_WRONLY | O_CREAT | O_TRUNC, 04755);
			res(op, fd >= 0, NULL);
			if (fd >= 0) close(fd);
		} else if (!strcmp(op, "chmod")) {
			const char *path = argv[++i];
			res(op, chmod(path, strtol(argv[++i], 0, 8)) == 0, NULL);
		} else if (!strcmp(op, "fchmod")) {
			const char *path = argv[++i];
			int fd = open(path, O_RDONLY);
			res(op, fd >= 0 && fchmod(fd, strtol(argv[++i], 0, 8)) == 0, NULL);
			if (fd >= 0) close(fd);
		} else if (!strcmp(op, "chown")) {
			const char *path = argv[++i];
			res(op, chown(path, atoi(argv[++i]), -1) == 0, NULL);
		} else if (!strcmp(op, "utimens")) {
			struct timespec ts[2] = {{1, 0}, {1, 0}};
			res(op, utimensat(AT_FDCWD, argv[++i], ts, 0) == 0, NULL);
		} else if (!strcmp(op, "setxattr")) {
			res(op, setxattr(argv[++i], "user.immunix", "1", 1, 0) == 0, NULL);
		} else if (!strcmp(op, "setxattrat") || !strcmp(op, "setcapat") || !strcmp(op, "setxattrat-fd")) {
			/* setxattrat(2), Linux 6.13: no glibc wrapper yet. */
			unsigned int cap[5] = {0x02000001, 1u << 7, 0, 0, 0};
			int cap_op = !strcmp(op, "setcapat"), fd_op = !strcmp(op, "setxattrat-fd");
			struct { unsigned long long value; unsigned int size, flags; } xa = {
				(unsigned long)(cap_op ? (void *)cap : (void *)"1"), cap_op ? sizeof cap : 1, XATTR_CREATE};
			const char *path = argv[++i];
			int fd = fd_op ? open(path, O_RDONLY) : AT_FDCWD;
			res(op, syscall(463, fd, fd_op ? NULL : path, fd_op ? AT_EMPTY_PATH : 0,
				cap_op ? "security.capability" : "user.immunixat", &xa, sizeof xa) == 0, NULL);
			if (fd_op && fd >= 0) close(fd);
		} else if (!strcmp(op, "setxattrat-raw")) {
			/* setxattrat with a hostile struct: PATH USIZE TAILBYTE ATFLAGS */
			static unsigned char xa[8192];
			const char *path = argv[++i];
			size_t usize = strtoul(argv[++i], 0, 0);
			int tail = atoi(argv[++i]), at = strtol(argv[++i], 0, 0);
			memset(xa, 0, sizeof xa);
			*(unsigned long long *)xa = (unsigned long)"1";
			*(unsigned int *)(xa + 8) = 1;
			xa[sizeof xa - 1] = xa[20] = (unsigned char)tail;
			res(op, syscall(463, AT_FDCWD, path, at, "user.immunixraw", xa, usize) == 0, NULL);
		} else if (!strcmp(op, "removexattrat")) {
			res(op, syscall(466, AT_FDCWD, argv[++i], 0, "user.immunixat") == 0, NULL);
		} else if (!strcmp(op, "setcap")) {
			/* security.capability v2: cap_setuid=ep */
			unsigned int cap[5] = {0x02000001, 1u << 7, 0, 0, 0};
			res(op, setxattr(argv[++i], "security.capability", cap, sizeof cap, 0) == 0, NULL);
		} else if (!strcmp(op, "setuid")) {
			res(op, setuid(atoi(argv[++i])) == 0, NULL);
		} else if (!strcmp(op, "drop")) {
			/* root drops to ID: groups {ID}, gids and uids ID */
			int id = atoi(argv[++i]);
			gid_t g = id;
			res(op, setgroups(1, &g) == 0 && setresgid(id, id, id) == 0 && setresuid(id, id, id) == 0, NULL);
		} else if (!strcmp(op, "dropcap")) {
			/* root drops to ID keeping only capability CAP */
			int id = atoi(argv[++i]), cap = atoi(argv[++i]);
			gid_t g = id;
			struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
			struct __user_cap_data_struct d[2];
			memset(d, 0, sizeof d);
			d[cap / 32].effective = d[cap / 32].permitted = 1u << (cap % 32);
			res(op, prctl(PR_SET_KEEPCAPS, 1) == 0 && setgroups(1, &g) == 0 && setresgid(id, id, id) == 0 &&
				setresuid(id, id, id) == 0 && syscall(SYS_capset, &h, d) == 0, NULL);
		} else if (!strcmp(op, "kill0")) {
			res(op, kill(atoi(argv[++i]), 0) == 0, NULL);
		} else if (!strcmp(op, "prlimit")) {
			struct rlimit rl = {0, 0};
			res(op, prlimit(atoi(argv[++i]), RLIMIT_CORE, &rl, NULL) == 0, NULL);
		} else if (!strcmp(op, "udp")) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in a = lo(atoi(argv[++i]));
			res(op, s >= 0 && sendto(s, "udp-data\n", 9, 0, (struct sockaddr *)&a, sizeof a) == 9, NULL);
			if (s >= 0) close(s);
		} else if (!strcmp(op, "abstract")) {
			int s = socket(AF_UNIX, SOCK_STREAM, 0);
			struct sockaddr_un a;
			memset(&a, 0, sizeof a);
			a.sun_family = AF_UNIX;
			const char *name = argv[++i];
			strncpy(a.sun_path + 1, name, sizeof a.sun_path - 2);
			res(op, connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)) == 0, NULL);
			close(s);
		} else if (!strcmp(op, "daemonlisten") || !strcmp(op, "daemonlistenafter")) {
			/* a daemon: the started process exits, its child listens
			 * after that (daemonlistenafter: once GOFILE exists) and
			 * writes what it got to FILE */
			int port = atoi(argv[++i]);
			const char *file = argv[++i];
			const char *gofile = !strcmp(op, "daemonlistenafter") ? argv[++i] : NULL;
			pid_t parent = getpid();
			if (fork() > 0) return 0;
			close(0); close(1); close(2);
			while (getppid() == parent) usleep(10000);
			if (gofile != NULL) {
				struct stat st;
				for (int n = 0; n < 3000 && stat(gofile, &st) != 0; n++) usleep(10000);
			} else
				usleep(100000); /* the supervisor has drained the started process's records */
			int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			struct sockaddr_in a = lo(port);
			int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0;
			const char *e1 = ok ? "ok" : strerrorname_np(errno);
			int s2 = socket(AF_INET, SOCK_STREAM, 0);
			const char *e2 = listen(s2, 1) == 0 ? "ok" : strerrorname_np(errno);
			int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dprintf(fd, "bindlisten %s\nlisten0 %s\n", e1, e2);
			close(fd);
			return 0;
		} else if (!strcmp(op, "kill")) {
			res(op, kill(atoi(argv[++i]), SIGKILL) == 0, NULL);
		} else if (!strcmp(op, "killchildren")) {
			/* the supervisor is this process's child */
			snprintf(buf, sizeof buf, "/proc/%d/task/%d/children", getpid(), getpid());
			int fd = open(buf, O_RDONLY);
			ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
			if (fd >= 0) close(fd);
			if (n <= 0) { errno = n < 0 ? errno : ESRCH; res(op, 0, NULL); continue; }
			buf[n] = 0;
			res(op, kill(atoi(buf), SIGKILL) == 0, buf);
		} else if (!strcmp(op, "adjtimex")) {
			struct timex tx;
			memset(&tx, 0, sizeof tx);
			tx.modes = ADJ_SETOFFSET | ADJ_NANO; /* step the clock by 0 */
			/* the raw call: glibc's adjtimex() is clock_adjtime */
			res(op, syscall(SYS_adjtimex, &tx) >= 0, NULL);
		} else if (!strcmp(op, "memfdexec") || !strcmp(op, "memfdexecsealed")) {
			int fd = memfd_create("x", strcmp(op, "memfdexec") ? MFD_NOEXEC_SEAL : 0);
			if (fd < 0) { res(op, 0, "memfd_create"); continue; }
			int self = open("/proc/self/exe", O_RDONLY);
			ssize_t n;
			while ((n = read(self, buf, sizeof buf)) > 0) write(fd, buf, n);
			close(self);
			char *args[] = {"attack", "hello", NULL};
			fflush(stdout);
			syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
			res(op, 0, "execveat");
		} else if (!strcmp(op, "fastopen")) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in a = lo(atoi(argv[++i]));
			res(op, sendto(s, "fastopen-data\n", 14, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a) == 14, NULL);
			close(s);
		} else if (!strcmp(op, "connect")) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in a = lo(atoi(argv[++i]));
			res(op, connect(s, (struct sockaddr *)&a, sizeof a) == 0, NULL);
			close(s);
		} else if (!strcmp(op, "mptcpconnect")) {
			int s = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
			struct sockaddr_in a = lo(atoi(argv[++i]));
			res(op, s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0, NULL);
			if (s >= 0) close(s);
		} else if (!strcmp(op, "listen0")) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in a;
			socklen_t l = sizeof a;
			int ok = listen(s, 1) == 0 && getsockname(s, (struct sockaddr *)&a, &l) == 0;
			snprintf(buf, 32, "port=%d", ntohs(a.sin_port));
			res(op, ok, buf);
			close(s);
		} else if (!strcmp(op, "bindlisten")) {
			int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			struct sockaddr_in a = lo(atoi(argv[++i]));
			res(op, bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0, NULL);
			close(s);
		} else {
			fprintf(stderr, "unknown op %s\n", op);
			return 2;
		}
	}
	return 0;
}
`

// attackSetup builds the attack program into a fresh workspace.
func attackSetup(t *testing.T) (dir, exe string) {
	t.Helper()
	return programSetup(t, "attack", attackC)
}

// programSetup builds the C program src with gcc (flags added) into a
// fresh workspace, as name.
func programSetup(t *testing.T, name, src string, flags ...string) (dir, exe string) {
	t.Helper()
	needsEnforcement(t)
	testenv.NeedsTool(t, "gcc")
	dir = workspace(t)
	exe = filepath.Join(dir, name)
	data, err := os.ReadFile(cbuild.Build(t, "gcc", src, append([]string{"-O2", "-Wall", "-Wextra"}, flags...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, exe
}

// ops parses the attack program's "OP RESULT [DETAIL]" lines.
func ops(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if op, res, ok := strings.Cut(l, " "); ok {
			m[op] = res
		}
	}
	return m
}

// unconfined runs the attack directly: the attack must work there.
func unconfined(t *testing.T, dir string, argv ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unconfined %v: %v\n%s", argv, err, out)
	}
	return ops(string(out))
}

// confinedOps runs argv under prof and returns its results and alerts.
func confinedOps(t *testing.T, dir, prof string, sink *syslogSink, argv ...string) (map[string]string, []alert.Alert, result) {
	t.Helper()
	r := run(t, dir, sink, "", append([]string{"run", "--profile", prof, "--"}, argv...)...)
	return ops(r.stdout), sink.Alerts(t), r
}

func wantOK(t *testing.T, what string, got map[string]string, op string) {
	t.Helper()
	if !strings.HasPrefix(got[op], "ok") {
		t.Fatalf("%s: %s = %q, want ok (all: %v)", what, op, got[op], got)
	}
}

func wantErr(t *testing.T, what string, got map[string]string, op, errno string) {
	t.Helper()
	if got[op] != errno {
		t.Errorf("%s: %s = %q, want %s (all: %v)", what, op, got[op], errno, got)
	}
}

func wantAlert(t *testing.T, alerts []alert.Alert, op string, targets ...string) {
	t.Helper()
	for _, target := range targets {
		if hasAlert(alerts, op, target) {
			return
		}
	}
	if len(targets) == 0 {
		for _, a := range alerts {
			if o, _ := a.Get("op"); o == op {
				return
			}
		}
	}
	t.Errorf("no alert op=%s for %v; got %v", op, targets, bodies(alerts))
}

// Issue 13 item 3: a program that only lists / and data/ must not read
// the files beneath them.
func TestEscapeDirectoryRead(t *testing.T) {
	dir, exe := attackSetup(t)
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "sub"), 0o755)
	deep := filepath.Join(data, "sub", "deep.txt")
	os.WriteFile(deep, []byte("deep secret\n"), 0o644)
	attack := []string{exe, "opendir", "/", "opendir", data, "read", "/etc/shadow", "read", deep}
	u := unconfined(t, dir, attack...)
	wantOK(t, "unconfined", u, "read")
	prof, p := learnProfile(t, dir, "dirs.sd", exe, "opendir", "/", "opendir", data)
	if ok, _ := p.Allows("/", 1); !ok {
		t.Fatalf("learned profile has no / r rule:\n%v", p.Rules)
	}
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "opendir", "/", "opendir", data)
	if !strings.HasPrefix(got["opendir"], "ok") || len(alerts) != 0 {
		t.Fatalf("honest listing: %v, alerts %v\n%s", got, bodies(alerts), r.stderr)
	}
	for _, target := range []string{"/etc/shadow", deep} {
		got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "opendir", "/", "read", target)
		wantErr(t, "confined", got, "read", "EACCES")
		wantAlert(t, alerts, "read", target)
	}
	// Started by a relative name, the alert still names the program by
	// its absolute path.
	got, alerts, _ = confinedOps(t, dir, prof, sink, "./"+filepath.Base(exe), "opendir", "/", "read", "/etc/shadow")
	wantErr(t, "confined, relative name", got, "read", "EACCES")
	if n := len(alerts); n == 0 || alerts[n-1].Exe != exe {
		t.Errorf("started as ./%s, the alert names %v, want %s", filepath.Base(exe), bodies(alerts[max(0, n-1):]), exe)
	}
}

// Issue 13 item 2: a learned /proc/@{pid}/oom_score_adj w rule lets the
// program write its own entry and nothing else of /proc.
func TestEscapeProc(t *testing.T) {
	dir, exe := attackSetup(t)
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { victim.Process.Kill(); victim.Wait() }()
	other := "/proc/" + strconv.Itoa(victim.Process.Pid) + "/oom_score_adj"
	const sys = "/proc/sys/kernel/core_pattern"
	u := unconfined(t, dir, exe, "writeback", sys)
	wantOK(t, "unconfined /proc/sys", u, "writeback")
	u = unconfined(t, dir, exe, "writeback", other)
	wantOK(t, "unconfined other process", u, "writeback")
	prof, p := learnProfile(t, dir, "oom.sd", exe, "writeback", "/proc/self/oom_score_adj")
	if ok, _ := p.Allows("/proc/4242/oom_score_adj", 2); !ok {
		t.Fatalf("learned profile lacks /proc/@{pid}/oom_score_adj w: %v", p.Rules)
	}
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "writeback", "/proc/self/oom_score_adj")
	if !strings.HasPrefix(got["writeback"], "ok") || len(alerts) != 0 {
		t.Fatalf("honest write of its own oom_score_adj: %v, alerts %v\n%s", got, bodies(alerts), r.stderr)
	}
	for _, target := range []string{sys, other} {
		got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "writeback", target)
		if got["writeback"] != "EACCES" {
			t.Errorf("confined writeback %s = %q, want EACCES", target, got["writeback"])
		}
		if len(alerts) == 0 {
			t.Errorf("no alert for writing %s", target)
		}
	}
}

// Issue 13 item 4: a c rule under a directory that does not exist is
// not widened to an ancestor.
func TestEscapeCreateAncestor(t *testing.T) {
	dir, exe := attackSetup(t)
	prof := filepath.Join(dir, "anc.sd")
	lp, _ := learnProfile(t, dir, "base.sd", exe, "opendir", dir)
	base, _ := os.ReadFile(lp)
	missing := filepath.Join(dir, "srv-x", "app", "state.db")
	os.WriteFile(prof, append(base, []byte(missing+" wc\n")...), 0o644)
	victim := filepath.Join(dir, "planted")
	u := unconfined(t, dir, exe, "create", victim)
	wantOK(t, "unconfined", u, "create")
	os.Remove(victim)
	r := run(t, dir, nil, "", "run", "--plan", "--profile", prof)
	for _, l := range strings.Split(r.stdout, "\n") {
		if (strings.HasPrefix(l, "  "+dir+" {") || strings.HasPrefix(l, "  / {")) && strings.Contains(l, "make_reg") {
			t.Errorf("a rule under a missing directory is granted on an ancestor: %s", l)
		}
	}
	if !strings.Contains(r.stdout, "do not exist now") {
		t.Errorf("the plan does not say the rule under a missing directory is not granted:\n%s", r.stdout)
	}
	sink := newSyslog(t)
	got, alerts, _ := confinedOps(t, dir, prof, sink, exe, "create", victim)
	wantErr(t, "confined", got, "create", "EACCES")
	wantAlert(t, alerts, "create", victim, dir)
}

// Issue 13 item 1: metadata changes (chmod, a set-uid copy, chown,
// utimensat, setxattr, and a set-uid file made by open) outside the
// profile; the profile lets the program create and write files in its
// directory, nothing more.
func TestEscapeMetadata(t *testing.T) {
	dir, exe := attackSetup(t)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	secret := filepath.Join(dir, "secret")
	mine := filepath.Join(work, "out")
	attack := func(target, suid string) []string {
		return []string{exe, "chmod", target, "0666", "fchmod", target, "04755", "chown", target, "1",
			"utimens", target, "setxattr", target, "setcap", target, "creatsuid", suid}
	}
	reset := func() {
		for _, f := range []string{secret, mine} {
			os.Remove(f)
			os.WriteFile(f, []byte("x"), 0o600)
			os.Chmod(f, 0o600)
			os.Chown(f, 0, 0)
		}
	}
	reset()
	u := unconfined(t, dir, attack(secret, filepath.Join(work, "suid1"))...)
	metaOps := []string{"chmod", "fchmod", "chown", "utimens", "setxattr", "setcap", "creatsuid"}
	if u["setxattr"] == "EOPNOTSUPP" {
		t.Logf("the workspace's file system has no user.* extended attributes: setxattr is checked confined only")
		u["setxattr"] = "ok"
	}
	for _, op := range metaOps {
		wantOK(t, "unconfined", u, op)
	}
	if fi, _ := os.Stat(filepath.Join(work, "suid1")); fi == nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("unconfined creatsuid made no set-uid file")
	}
	if _, err := unix.Getxattr(secret, "security.capability", make([]byte, 64)); err != nil {
		t.Fatalf("unconfined setcap gave the file no capabilities: %v", err)
	}
	reset()
	// The program writes work/out (w): metadata there is its own; it
	// only reads secret.
	prof, p := learnProfile(t, dir, "meta.sd", exe, "create", mine, "read", secret, "chmod", mine, "0640")
	for _, s := range p.Syscalls {
		if subdomain.IsMetadata(s) {
			t.Errorf("learn wrote syscall %s for a chmod of a file it writes (a w rule is the grant)", s)
		}
	}
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, attack(secret, filepath.Join(work, "suid2"))...)
	for _, op := range metaOps {
		wantErr(t, "confined, outside the profile", got, op, "EPERM")
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSetuid != 0 || fi.ModTime().Unix() == 1 {
		t.Errorf("secret changed: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(work, "suid2")); err == nil {
		t.Errorf("a set-uid file was created")
	}
	for _, op := range []string{"chmod", "fchmod", "chown", "utimensat", "setxattr"} {
		wantAlert(t, alerts, op, secret)
	}
	wantAlert(t, alerts, "syscall", "openat")
	// Where the profile grants w: done, as the kernel allows it, except
	// a set-uid bit or file capabilities (a privileged copy).
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "chmod", mine, "0640", "chown", mine, "1", "utimens", mine, "setxattr", mine)
	for _, op := range []string{"chmod", "chown", "utimens"} {
		wantOK(t, "confined, on a w rule", got, op)
	}
	if got["setxattr"] != "EOPNOTSUPP" {
		wantOK(t, "confined, on a w rule", got, "setxattr")
	}
	if fi, err := os.Stat(mine); err != nil || fi.Mode().Perm() != 0o640 || fi.ModTime().Unix() != 1 || fi.Sys().(*syscall.Stat_t).Uid != 1 {
		t.Errorf("work/out not changed as asked: %v %v", fi, err)
	}
	if len(alerts) != 0 {
		t.Errorf("alerts for allowed metadata changes: %v", bodies(alerts))
	}
	os.Chown(mine, 0, 0)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "chmod", mine, "04755", "setcap", mine)
	wantErr(t, "confined, set-uid on a w rule", got, "chmod", "EPERM")
	wantErr(t, "confined, file capabilities on a w rule", got, "setcap", "EPERM")
	if fi, err := os.Stat(mine); err != nil || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("work/out became set-uid: %v %v", fi, err)
	}
	wantAlert(t, alerts, "chmod", mine)
	wantAlert(t, alerts, "setxattr", mine)
	// A program that dropped root: the supervisor (root) acts for it
	// with its credentials, so it gains nothing: the kernel refuses its
	// chmod of a root file (EPERM) as it does unconfined, and that is
	// not alerted (TestEscapeMetadataCredentials has the rest).
	reset()
	os.Chmod(dir, 0o755) // uid 1 may look work/out up
	u = unconfined(t, dir, exe, "setuid", "1", "chmod", mine, "0666")
	wantOK(t, "unconfined", u, "setuid")
	wantErr(t, "unconfined after setuid", u, "chmod", "EPERM")
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "setuid", "1", "chmod", mine, "0666")
	wantOK(t, "confined", got, "setuid")
	wantErr(t, "confined after setuid", got, "chmod", "EPERM")
	if m := statMode(t, mine); m != 0o600 {
		t.Errorf("work/out changed for a program that dropped root: %v", m)
	}
	if len(alerts) != 0 {
		t.Errorf("alerts for a chmod the kernel refused: %v", bodies(alerts))
	}
	// --no-audit: the supervisor still performs the metadata calls
	// where the profile grants w; a profile without a write rule gets
	// no supervisor, and the filter refuses them.
	reset()
	r = run(t, dir, nil, "", "run", "--no-audit", "--profile", prof, "--", exe, "chmod", mine, "0640", "utimens", secret)
	got = ops(r.stdout)
	wantOK(t, "--no-audit, on a w rule", got, "chmod")
	wantErr(t, "--no-audit, outside the profile", got, "utimens", "EPERM")
	ro, _ := learnProfile(t, dir, "ro.sd", exe, "read", secret)
	r = run(t, dir, nil, "", "run", "-v", "--no-audit", "--profile", ro, "--", exe, "chmod", secret, "0666", "listen0")
	got = ops(r.stdout)
	if !strings.Contains(r.stderr, "no supervisor") {
		t.Errorf("a supervisor was started for a read-only profile with --no-audit: %s", r.stderr)
	}
	wantErr(t, "--no-audit, read-only profile", got, "chmod", "EPERM")
	wantErr(t, "--no-audit, read-only profile", got, "listen0", "EPERM")
	if m := statMode(t, secret); m != 0o600 {
		t.Errorf("secret changed: %v", m)
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// Issue 13 item 6: the confined program cannot kill its supervisor (nor
// any process outside its confinement), and alerts go on.
func TestEscapeKillSupervisor(t *testing.T) {
	dir, exe := attackSetup(t)
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	vpid := strconv.Itoa(victim.Process.Pid)
	u := unconfined(t, dir, exe, "kill", vpid)
	wantOK(t, "unconfined kill", u, "kill")
	if err := victim.Wait(); err == nil {
		t.Fatalf("victim not killed unconfined")
	}
	victim = exec.Command("sleep", "60")
	victim.Start()
	defer func() { victim.Process.Kill(); victim.Wait() }()
	vpid = strconv.Itoa(victim.Process.Pid)
	// Learned looking for its children (it has none unconfined).
	prof, _ := learnProfile(t, dir, "kill.sd", exe, "killchildren")
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "killchildren", "kill", vpid, "read", "/etc/shadow")
	wantErr(t, "confined", got, "killchildren", "EPERM")
	wantErr(t, "confined", got, "kill", "EPERM")
	wantAlert(t, alerts, "signal", vpid)
	// The supervisor survived: the denial after the kills is alerted.
	wantAlert(t, alerts, "read", "/etc/shadow")
	if victim.ProcessState != nil {
		t.Errorf("victim died")
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// Issue 13 items 7 and 8: adjtimex and executing an anonymous file.
func TestEscapeClockAndMemfd(t *testing.T) {
	dir, exe := attackSetup(t)
	u := unconfined(t, dir, exe, "adjtimex", "memfdexec")
	wantOK(t, "unconfined", u, "hello")
	wantOK(t, "unconfined", u, "adjtimex")
	prof, _ := learnProfile(t, dir, "clock.sd", exe, "opendir", dir)
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "adjtimex", "memfdexec", "memfdexecsealed")
	wantErr(t, "confined", got, "adjtimex", "EPERM")
	wantErr(t, "confined", got, "memfdexec", "EPERM")
	wantErr(t, "confined", got, "memfdexecsealed", "EACCES")
	if _, ok := got["hello"]; ok {
		t.Errorf("an anonymous file ran: %v", got)
	}
	wantAlert(t, alerts, "syscall", "adjtimex")
	wantAlert(t, alerts, "syscall", "memfd_create")
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// listenOnce accepts one connection on a fresh loopback port and sends
// what it read on the channel.
func listenOnce(t *testing.T) (int, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		l.Close()
		if err != nil {
			ch <- ""
			return
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		ch <- line
	}()
	return l.Addr().(*net.TCPAddr).Port, ch
}

func received(ch <-chan string) string {
	select {
	case s := <-ch:
		return s
	case <-time.After(3 * time.Second):
		return ""
	}
}

// Issue 13 item 5: TCP fast open, MPTCP and listen on an unbound
// socket, against a profile that connects to one port and binds one.
func TestEscapeTCP(t *testing.T) {
	dir, exe := attackSetup(t)
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_fastopen"); len(b) == 0 || (b[0]-'0')&1 == 0 {
		testenv.Missing(t, "net.ipv4.tcp_fastopen has no client bit: sendto(MSG_FASTOPEN) cannot be tried")
	}
	port, ch := listenOnce(t)
	u := unconfined(t, dir, exe, "fastopen", strconv.Itoa(port))
	wantOK(t, "unconfined", u, "fastopen")
	if got := received(ch); got != "fastopen-data\n" {
		t.Fatalf("unconfined fast open delivered %q", got)
	}
	mptcp := true
	if b, _ := os.ReadFile("/proc/sys/net/mptcp/enabled"); len(b) == 0 || b[0] != '1' {
		mptcp = false
		t.Logf("MPTCP disabled in this kernel: its attack is not tried")
	}
	if mptcp {
		port, _ := listenOnce(t)
		u = unconfined(t, dir, exe, "mptcpconnect", strconv.Itoa(port))
		wantOK(t, "unconfined", u, "mptcpconnect")
	}
	u = unconfined(t, dir, exe, "listen0")
	wantOK(t, "unconfined", u, "listen0")

	allowed, ach := listenOnce(t)
	bindPort := freePort(t)
	prof, p := learnProfile(t, dir, "tcp.sd", exe, "connect", strconv.Itoa(allowed), "bindlisten", strconv.Itoa(bindPort))
	received(ach)
	if !p.AllowsNet("tcp", "connect", uint16(allowed)) || !p.AllowsNet("tcp", "bind", uint16(bindPort)) {
		t.Fatalf("learned profile lacks the TCP rules: %v", p.Net)
	}
	sink := newSyslog(t)
	// Honest: the learned connect and bind+listen work, no alert.
	allowed2, ach2 := listenOnceOn(t, allowed)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "connect", strconv.Itoa(allowed2), "bindlisten", strconv.Itoa(bindPort))
	received(ach2)
	if !strings.HasPrefix(got["connect"], "ok") || !strings.HasPrefix(got["bindlisten"], "ok") || len(alerts) != 0 {
		t.Fatalf("honest TCP: %v, alerts %v\n%s", got, bodies(alerts), r.stderr)
	}
	port, ch = listenOnce(t)
	args := []string{exe, "fastopen", strconv.Itoa(port), "listen0"}
	if mptcp {
		args = append(args, "mptcpconnect", strconv.Itoa(port))
	}
	got, alerts, r = confinedOps(t, dir, prof, sink, args...)
	wantErr(t, "confined", got, "fastopen", "EPERM")
	wantErr(t, "confined", got, "listen0", "EPERM")
	if mptcp {
		wantErr(t, "confined", got, "mptcpconnect", "EPROTONOSUPPORT")
		wantAlert(t, alerts, "syscall", "socket")
	}
	if got := received(ch); got != "" {
		t.Errorf("confined fast open delivered %q", got)
	}
	wantAlert(t, alerts, "syscall", "sendto")
	wantAlert(t, alerts, "listen", "0")
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// listenOnceOn listens again on port (the learned one).
func listenOnceOn(t *testing.T, port int) (int, <-chan string) {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		ch <- ""
	}()
	return port, ch
}

// The audit-mode run prints nothing of its own on the program's stderr:
// an honest confined run's output is the unconfined run's.
func TestEscapeQuietStderr(t *testing.T) {
	dir, exe := attackSetup(t)
	prof, _ := learnProfile(t, dir, "quiet.sd", exe, "opendir", dir)
	cmd := exec.Command(exe, "opendir", dir)
	cmd.Dir = dir
	var ustderr strings.Builder
	cmd.Stderr = &ustderr
	uout, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// With the audit off (no auditd), every run turns it on: the note
	// must not reach the program's stderr.
	sink := newSyslog(t)
	r := run(t, dir, sink, "", "run", "--profile", prof, "--", exe, "opendir", dir)
	if r.code != 0 || r.stdout != string(uout) || r.stderr != ustderr.String() {
		t.Errorf("confined run: exit %d, stdout %q stderr %q; unconfined stdout %q stderr %q", r.code, r.stdout, r.stderr, uout, ustderr.String())
	}
}

// The rest of issue 13: UDP, abstract unix sockets and signals to
// processes outside the confinement are refused unless the profile says
// "network udp", "network unix abstract", "signal outside", which learn
// writes when the program does it; prlimit on another process (which
// could kill the supervisor with RLIMIT_CPU) is refused.
func TestEscapeIPC(t *testing.T) {
	dir, exe := attackSetup(t)
	uc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	udpPort := strconv.Itoa(uc.LocalAddr().(*net.UDPAddr).Port)
	udpGot := func() string {
		uc.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 64)
		n, _, _ := uc.ReadFrom(b)
		return string(b[:max(n, 0)])
	}
	name := "immunix-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ul, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { victim.Process.Kill(); victim.Wait() }()
	vpid := strconv.Itoa(victim.Process.Pid)
	attack := []string{exe, "udp", udpPort, "abstract", name, "kill0", vpid, "prlimit", vpid}

	u := unconfined(t, dir, attack...)
	for _, op := range []string{"udp", "abstract", "kill0", "prlimit"} {
		wantOK(t, "unconfined", u, op)
	}
	if got := udpGot(); got != "udp-data\n" {
		t.Fatalf("unconfined UDP delivered %q", got)
	}

	base, _ := learnProfile(t, dir, "none.sd", exe, "opendir", dir)
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, base, sink, append(attack, "killchildren")...)
	wantErr(t, "confined", got, "udp", "EPERM")
	wantErr(t, "confined", got, "abstract", "EPERM")
	wantErr(t, "confined", got, "kill0", "EPERM")
	wantErr(t, "confined", got, "prlimit", "EPERM")
	if got := udpGot(); got != "" {
		t.Errorf("confined UDP delivered %q", got)
	}
	wantAlert(t, alerts, "syscall", "socket")
	wantAlert(t, alerts, "connect")
	wantAlert(t, alerts, "signal", vpid)
	wantAlert(t, alerts, "syscall", "prlimit64")
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}

	// Learned doing it: the profile says so and the confined run works.
	prof, p := learnProfile(t, dir, "ipc.sd", exe, "udp", udpPort, "abstract", name, "kill0", vpid)
	udpGot()
	for _, want := range []string{"network udp", "network unix abstract", "signal outside"} {
		found := false
		for _, n := range p.Net {
			found = found || n.String() == want
		}
		if !found {
			t.Errorf("learned profile lacks %q: %v", want, p.Net)
		}
	}
	got, alerts, r = confinedOps(t, dir, prof, newSyslog(t), exe, "udp", udpPort, "abstract", name, "kill0", vpid)
	for _, op := range []string{"udp", "abstract", "kill0"} {
		wantOK(t, "confined with the learned profile", got, op)
	}
	if got := udpGot(); got != "udp-data\n" {
		t.Errorf("UDP under the learned profile delivered %q", got)
	}
	if len(alerts) != 0 {
		t.Errorf("alerts under the learned profile: %v\n%s", bodies(alerts), r.stderr)
	}
}

// A daemon's child outlives the started process: it is still confined
// and still served (its listen() works, an unbound listen is refused).
func TestEscapeDaemonChild(t *testing.T) {
	dir, exe := attackSetup(t)
	port := strconv.Itoa(freePort(t))
	out := filepath.Join(dir, "daemon.out")
	waitOut := func() map[string]string {
		t.Helper()
		return ops(waitFile(t, out))
	}
	unconfined(t, dir, exe, "daemonlisten", port, out)
	u := waitOut()
	wantOK(t, "unconfined", u, "bindlisten")
	wantOK(t, "unconfined", u, "listen0")
	prof, _ := learnProfile(t, dir, "daemon.sd", exe, "daemonlisten", port, out)
	waitOut()
	sink := newSyslog(t)
	r := run(t, dir, sink, "", "run", "--profile", prof, "--", exe, "daemonlisten", port, out)
	got := waitOut()
	wantOK(t, "confined daemon child", got, "bindlisten")
	wantErr(t, "confined daemon child", got, "listen0", "EPERM")
	deadline := time.Now().Add(5 * time.Second)
	for !hasAlert(sink.Alerts(t), "listen", "0") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alerts := sink.Alerts(t); !hasAlert(alerts, "listen", "0") {
		t.Errorf("no alert for the daemon child's listen; got %v\n%s", bodies(alerts), r.stderr)
	}
}

// A daemon's child whose last call comes after the supervisor's first
// drain and which exits before the supervisor looks for processes still
// confined: its alert was left queued (the supervisor took "no process
// left" for "nothing left to alert"). The supervisor is stopped after its
// first drain (test hook), the child then makes its calls and exits, and
// the supervisor goes on only once its listener is gone from /proc (it
// closes it after it has seen every confined process gone).
func TestEscapeDaemonChildLastCall(t *testing.T) {
	dir, exe := attackSetup(t)
	port := strconv.Itoa(freePort(t))
	out := filepath.Join(dir, "daemon.out")
	gofile := filepath.Join(dir, "daemon.go")
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	prof, _ := learnProfile(t, dir, "daemon.sd", exe, "daemonlistenafter", port, out, gofile)
	waitFile(t, out)
	os.Remove(gofile)

	hook := newSupervisorHook(t, "drained")
	sink := newSyslog(t)
	cmd := exec.Command(immunix(t), "run", "--profile", prof, "--", exe, "daemonlistenafter", port, out, gofile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), alert.SocketEnv+"="+sink.Path, "IMMUNIX_TEST_SUPERVISOR_HOOK="+hook.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	// The started process has exited and the supervisor drained.
	hook.wait("drained", "-")
	sup := processWithEnv(t, "IMMUNIX_TEST_SUPERVISOR_HOOK="+hook.dir)
	if err := os.WriteFile(gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := ops(waitFile(t, out))
	wantOK(t, "confined daemon child", got, "bindlisten")
	wantErr(t, "confined daemon child", got, "listen0", "EPERM")
	// The child has exited: the supervisor closes its listener once it
	// has seen no confined process left.
	deadline := time.Now().Add(10 * time.Second)
	for hasSeccompListener(sup) {
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor %d still holds its seccomp listener 10 s after the child exited", sup)
		}
		time.Sleep(10 * time.Millisecond)
	}
	hook.goOn()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("immunix run: %v", err)
	}
	// The supervisor exits after its last alert.
	for deadline = time.Now().Add(10 * time.Second); processExists(sup) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alerts := sink.Alerts(t); !hasAlert(alerts, "listen", "0") {
		t.Errorf("no alert for the daemon child's last listen; got %v", bodies(alerts))
	}
}

// waitFile waits (10 s at most) for the daemon child's two result lines
// in path, removes the file and returns them.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Count(string(b), "\n") == 2 {
			os.Remove(path)
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the daemon child wrote no result to %s", path)
	return ""
}

// processWithEnv returns the pid of the one process whose environment
// holds entry (10 s at most).
func processWithEnv(t *testing.T, entry string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil {
				continue
			}
			for _, v := range strings.Split(string(b), "\x00") {
				if v == entry {
					if c, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(c), enforce.SupervisorCommand) {
						return pid
					}
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no supervisor with %s in its environment", entry)
	return 0
}

// hasSeccompListener reports whether pid holds a seccomp listener.
func hasSeccompListener(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.Contains(l, "seccomp notify") {
			return true
		}
	}
	return false
}

func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// raceC: a second thread swaps the symlink LINK to point at TARGET once
// it reads a byte on stdin, while the first thread chmods LINK.
const raceC = `
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *link_, *target;

static void *swapper(void *arg) {
	char c, tmp[4096];
	(void)arg;
	if (read(0, &c, 1) != 1) return NULL;
	snprintf(tmp, sizeof tmp, "%s.new", link_);
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, link_) != 0) { printf("swap %s\n", strerrorname_np(errno)); fflush(stdout); return NULL; }
	printf("swapped\n");
	fflush(stdout);
	return NULL;
}

int main(int argc, char **argv) {
	pthread_t t;
	if (argc != 3) return 2;
	link_ = argv[1], target = argv[2];
	pthread_create(&t, NULL, swapper, NULL);
	int r = chmod(link_, 0666);
	printf("chmod %s\n", r == 0 ? "ok" : strerrorname_np(errno));
	fflush(stdout);
	pthread_join(t, NULL);
	return 0;
}
`

// Issue 13 item 1, the race: a checked path passed back to the kernel
// would be looked up again, and a second thread can swap a symlink in
// between. The supervisor is stopped (test hook) after it has checked
// work/link (-> work/mine, granted) and before it acts; the program's
// second thread then points work/link at secret; the change must still
// land on work/mine.
func TestEscapeMetadataRace(t *testing.T) {
	dir, exe := programSetup(t, "race", raceC, "-pthread")
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	mine, secret, link := filepath.Join(work, "mine"), filepath.Join(dir, "secret"), filepath.Join(work, "link")
	reset := func() {
		os.Remove(link)
		os.Symlink(mine, link)
		for _, f := range []string{mine, secret} {
			os.WriteFile(f, []byte("x"), 0o600)
			os.Chmod(f, 0o600)
		}
	}
	mode := func(f string) os.FileMode {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	// Learned swapping the link onto the file it already names.
	reset()
	r := run(t, dir, nil, "x", "learn", "-o", filepath.Join(dir, "race.sd"), "--", exe, link, mine)
	if r.code != 0 {
		t.Fatalf("learn: %d\n%s", r.code, r.stderr)
	}
	// Unconfined, the attack is a chmod through a link to secret.
	reset()
	os.Remove(link)
	os.Symlink(secret, link)
	if out, err := exec.Command(exe, link, secret).Output(); err != nil || !strings.Contains(string(out), "chmod ok") || mode(secret) != 0o666 {
		t.Fatalf("unconfined: %q %v, secret %v", out, err, mode(secret))
	}
	reset()
	hook := newSupervisorHook(t, "checked")
	sink := newSyslog(t)
	cmd := exec.Command(immunix(t), "run", "--profile", filepath.Join(dir, "race.sd"), "--", exe, link, secret)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), alert.SocketEnv+"="+sink.Path, "IMMUNIX_TEST_SUPERVISOR_HOOK="+hook.dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The supervisor has checked the object and holds it.
	hook.wait("checked", mine)
	// The program's second thread swaps the link.
	stdin.Write([]byte("x"))
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "swapped" {
		t.Fatalf("program: %q, stderr %s", lines.Text(), stderr.String())
	}
	// The window is real: the name now leads to secret, so a kernel
	// looking it up again would change secret.
	if dst, _ := os.Readlink(link); dst != secret {
		t.Fatalf("link -> %q, want %s", dst, secret)
	}
	hook.goOn()
	if !lines.Scan() || lines.Text() != "chmod ok" {
		t.Errorf("chmod: %q", lines.Text())
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("run: %v\n%s", err, stderr.String())
	}
	if m := mode(secret); m != 0o600 {
		t.Errorf("the swap redirected the chmod: secret is %v", m)
	}
	if m := mode(mine); m != 0o666 {
		t.Errorf("work/mine is %v, want the chmod the supervisor checked (0666)", m)
	}
	if a := sink.Alerts(t); len(a) != 0 {
		t.Errorf("alerts: %v", bodies(a))
	}
}

func statMode(t *testing.T, f string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// Issue 13 item 1: setxattrat and removexattrat (Linux 6.13), which take
// their arguments in memory, the value in a struct xattr_args. They go to
// the supervisor as setxattr does: done where the profile grants w,
// refused and alerted elsewhere, file capabilities refused everywhere,
// and an fd with AT_EMPTY_PATH is the object itself. They used to get
// ENOSYS.
func TestEscapeMetadataXattrat(t *testing.T) {
	dir, exe := attackSetup(t)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	secret := filepath.Join(dir, "secret")
	mine := filepath.Join(work, "out")
	reset := func() {
		for _, f := range []string{secret, mine} {
			os.Remove(f)
			os.WriteFile(f, []byte("x"), 0o600)
		}
	}
	reset()
	u := unconfined(t, dir, exe, "setxattrat", secret, "setxattrat-fd", mine, "setcapat", secret)
	switch u["setxattrat"] {
	case "ENOSYS":
		testenv.KernelLacks(t, "setxattrat (Linux 6.13)")
	case "EOPNOTSUPP":
		testenv.Missing(t, "user.* extended attributes on the workspace's file system")
	}
	for _, op := range []string{"setxattrat", "setxattrat-fd", "setcapat"} {
		wantOK(t, "unconfined", u, op)
	}
	if _, err := unix.Getxattr(secret, "security.capability", make([]byte, 64)); err != nil {
		t.Fatalf("unconfined setcapat gave the file no capabilities: %v", err)
	}
	reset()
	prof, _ := learnProfile(t, dir, "xattrat.sd", exe, "create", mine, "read", mine, "read", secret)
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, exe, "setxattrat", secret, "setxattrat-fd", secret, "setcapat", mine,
		"setxattrat", mine, "removexattrat", mine, "setxattrat-fd", mine)
	for _, op := range []string{"setxattrat", "setxattrat-fd", "setcapat"} {
		if got[op] == "" {
			t.Fatalf("no result for %s:\n%s\n%s", op, r.stdout, r.stderr)
		}
	}
	if _, err := unix.Getxattr(secret, "user.immunixat", make([]byte, 8)); err == nil {
		t.Errorf("secret got the attribute")
	}
	if _, err := unix.Getxattr(mine, "security.capability", make([]byte, 64)); err == nil {
		t.Errorf("work/out got file capabilities")
	}
	wantAlert(t, alerts, "setxattrat", secret)
	wantAlert(t, alerts, "setxattrat", mine)
	// ops keeps each op's last result: the last setxattrat-fd is on
	// work/out, after removexattrat took the attribute away again.
	wantOK(t, "confined, on a w rule", got, "setxattrat-fd")
	wantOK(t, "confined, on a w rule", got, "removexattrat")
	if n, err := unix.Getxattr(mine, "user.immunixat", make([]byte, 8)); err != nil || n != 1 {
		t.Errorf("work/out's attribute after setxattrat-fd: %d %v", n, err)
	}
	// Each refusal separately, for its errno.
	got, _, _ = confinedOps(t, dir, prof, newSyslog(t), exe, "setxattrat", secret)
	wantErr(t, "confined, outside the profile", got, "setxattrat", "EPERM")
	got, _, _ = confinedOps(t, dir, prof, newSyslog(t), exe, "setxattrat-fd", secret)
	wantErr(t, "confined, an fd outside the profile", got, "setxattrat-fd", "EPERM")
	got, _, _ = confinedOps(t, dir, prof, newSyslog(t), exe, "setcapat", mine)
	wantErr(t, "confined, file capabilities on a w rule", got, "setcapat", "EPERM")
	// A hostile struct xattr_args or flags, on a w rule: the supervisor
	// answers what the kernel answers the unconfined program (E2BIG for
	// a size over a page or unknown bytes set, EINVAL for one under 16
	// bytes or an unknown AT_ flag) and sets nothing.
	for _, c := range [][]string{
		{"8192", "0", "0"}, {"24", "7", "0"}, {"8", "0", "0"}, {"16", "0", "0x4"},
	} {
		os.WriteFile(mine, []byte("x"), 0o600)
		args := append([]string{"setxattrat-raw", mine}, c...)
		u := unconfined(t, dir, append([]string{exe}, args...)...)
		os.WriteFile(mine, []byte("x"), 0o600)
		got, alerts, _ := confinedOps(t, dir, prof, newSyslog(t), append([]string{exe}, args...)...)
		if u["setxattrat-raw"] == "ok " || got["setxattrat-raw"] != u["setxattrat-raw"] {
			t.Errorf("setxattrat usize %s tail %s flags %s: confined %q, the kernel %q", c[0], c[1], c[2], got["setxattrat-raw"], u["setxattrat-raw"])
		}
		if _, err := unix.Getxattr(mine, "user.immunixraw", make([]byte, 8)); err == nil {
			t.Errorf("setxattrat usize %s tail %s flags %s set the attribute", c[0], c[1], c[2])
		}
		if len(alerts) != 0 {
			t.Errorf("alerts for a call the kernel refuses anyway: %v", bodies(alerts))
		}
	}
	// The same struct, well formed and with unknown bytes zero beyond the
	// 16 the kernel knows, is accepted.
	os.WriteFile(mine, []byte("x"), 0o600)
	got, _, _ = confinedOps(t, dir, prof, newSyslog(t), exe, "setxattrat-raw", mine, "64", "0", "0")
	wantOK(t, "confined, a longer struct with zero tail", got, "setxattrat-raw")
}

// heldC sets an extended attribute with XATTR_CREATE, which fails with
// EEXIST if the attribute is there already, so a call performed twice
// shows. A SIGUSR1 handler (SA_RESTART, as most programs install theirs)
// writes "signal" when it runs.
const heldC = `
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static void on_usr1(int sig) {
	(void)sig;
	if (write(1, "signal\n", 7) < 0) _exit(3);
}

int main(int argc, char **argv) {
	struct sigaction sa;
	if (argc != 2) return 2;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	printf("pid %d\n", getpid());
	fflush(stdout);
	int r = setxattr(argv[1], "user.immunix", "1", 1, XATTR_CREATE);
	printf("setxattr %s\n", r == 0 ? "ok" : strerrorname_np(errno));
	fflush(stdout);
	return 0;
}
`

// Issue 13 item 1: a signal that interrupts a metadata call while the
// supervisor performs it on the program's behalf. Interruptible, the
// kernel drops the call's notification and restarts the call, and the
// supervisor performs it a second time: setxattr with XATTR_CREATE then
// reports EEXIST for an attribute the program never had. The supervisor
// is stopped (test hook) after it has set the attribute and before it
// answers; the test sends SIGUSR1 there. Without
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (the hook's "interruptible",
// as on Linux < 5.19) the handler runs at once and the call is performed
// twice; with it the program goes back to sleep, killable (state D),
// with the signal pending, and the handler runs only once the one
// answer, "ok", is in.
func TestEscapeHeldCallRunsOnce(t *testing.T) {
	dir, exe := programSetup(t, "held", heldC)
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	file := filepath.Join(work, "f")
	fresh := func() {
		os.Remove(file)
		os.WriteFile(file, []byte("x"), 0o600)
	}
	fresh()
	if out, err := exec.Command(exe, file).Output(); err != nil || !strings.Contains(string(out), "setxattr ok") {
		if strings.Contains(string(out), "EOPNOTSUPP") {
			testenv.Missing(t, "user.* extended attributes on the workspace's file system")
		}
		t.Fatalf("unconfined: %q %v", out, err)
	}
	fresh()
	r := run(t, dir, nil, "", "learn", "-o", filepath.Join(dir, "held.sd"), "--", exe, file)
	if r.code != 0 {
		t.Fatalf("learn: %d\n%s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		name          string
		interruptible bool
		want          string
	}{
		{"interruptible: performed twice", true, "setxattr EEXIST"},
		{"killable wait: performed once", false, "setxattr ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh()
			hook := newSupervisorHook(t, "checked", "acted")
			if tc.interruptible {
				os.WriteFile(filepath.Join(hook.dir, "interruptible"), nil, 0o600)
			}
			step := func(name string) { t.Helper(); hook.wait(name, file) }
			goOn := hook.goOn
			cmd := exec.Command(immunix(t), "run", "--profile", filepath.Join(dir, "held.sd"), "--", exe, file)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "IMMUNIX_TEST_SUPERVISOR_HOOK="+hook.dir)
			stdout, _ := cmd.StdoutPipe()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stdout)
			var pid int
			if !lines.Scan() {
				t.Fatalf("no output; stderr %s", stderr.String())
			}
			if _, err := fmt.Sscanf(lines.Text(), "pid %d", &pid); err != nil {
				t.Fatalf("program: %q", lines.Text())
			}
			step("checked")
			goOn()
			// The attribute is set; the answer is not sent yet.
			step("acted")
			if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if tc.interruptible {
				// The handler runs while the supervisor still holds
				// the answer: the call was interrupted, and its
				// restart is a new call the supervisor performs again.
				if !lines.Scan() || lines.Text() != "signal" {
					t.Fatalf("program: %q, want the handler's line first", lines.Text())
				}
				goOn()
				step("checked")
				goOn()
				step("acted")
				goOn()
			} else {
				// kill() queued the signal before it returned. The
				// program's first sleep in the call is interruptible
				// (the kernel wakes it, sees the supervisor has the
				// call, and sleeps again, killable): wait for that
				// state, with the signal still pending, not handled.
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
					st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(string(st), "State:\tD") && pendingSignal(string(st), unix.SIGUSR1) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the program is not held killable with SIGUSR1 pending:\n%s", st)
					}
				}
				goOn()
				// The handler runs as the call returns, before the
				// program prints the call's result.
				if !lines.Scan() || lines.Text() != "signal" {
					t.Fatalf("program: %q, want the handler's line", lines.Text())
				}
			}
			rest := []string{}
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			if len(rest) != 1 || rest[0] != tc.want {
				t.Errorf("program ended with %q, want %q", rest, tc.want)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("run: %v\n%s", err, stderr.String())
			}
		})
	}
}

// supervisorHook is a directory of FIFOs through which a test stops
// immunix run's supervisor (IMMUNIX_TEST_SUPERVISOR_HOOK, enforce's
// metaGuard.hold): at each of its steps ("checked", "acted") the
// supervisor writes "STEP PATH" and waits until goOn. A failed test would
// leave the supervisor waiting on a FIFO, unable to see its program gone
// and exit: the hook lets it go when the test ends.
type supervisorHook struct {
	t   *testing.T
	dir string
}

func newSupervisorHook(t *testing.T, steps ...string) *supervisorHook {
	t.Helper()
	h := &supervisorHook{t: t, dir: t.TempDir()}
	for _, f := range append(steps, "go") {
		if err := unix.Mkfifo(filepath.Join(h.dir, f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, f := range append(steps, "go") {
			if fd, err := unix.Open(filepath.Join(h.dir, f), unix.O_RDWR|unix.O_NONBLOCK, 0); err == nil {
				unix.Write(fd, []byte("g"))
				defer unix.Close(fd)
			}
		}
	})
	return h
}

// wait reads the supervisor's line at step and wants it to name path.
func (h *supervisorHook) wait(step, path string) {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, step))
	if err != nil || strings.TrimSpace(string(b)) != step+" "+path {
		h.t.Fatalf("hook: %q %v, want %q", b, err, step+" "+path)
	}
}

// goOn lets the supervisor go on from the step it waits at.
func (h *supervisorHook) goOn() {
	h.t.Helper()
	f, err := os.OpenFile(filepath.Join(h.dir, "go"), os.O_WRONLY, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	f.Write([]byte("g"))
	f.Close()
}

// pendingSignal reports whether /proc/PID/status text shows sig pending,
// for the thread (SigPnd) or the process (ShdPnd).
func pendingSignal(status string, sig unix.Signal) bool {
	for _, l := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "SigPnd" && k != "ShdPnd") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err == nil && mask&(1<<(uint(sig)-1)) != 0 {
			return true
		}
	}
	return false
}

// floodC: with a fourth argument it first waits for a byte on stdin;
// then it opens PATH N times and FINAL once, and prints how many opens
// were refused and whether FINAL was.
const floodC = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
	char c;
	if (argc < 4) return 2;
	if (argc > 4 && read(0, &c, 1) != 1) return 3;
	int n = atoi(argv[1]), refused = 0;
	for (int i = 0; i < n; i++) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) refused++; else close(fd);
	}
	int fd = open(argv[3], O_RDONLY);
	printf("flood %d/%d final %s\n", refused, n, fd < 0 ? "refused" : "opened");
	return 0;
}
`

// childrenOf lists pid's children (the kernel's view: the supervisor,
// forked from another thread of immunix run before it exec'd the
// program, is the program's child).
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	var kids []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// A confined program floods denials to bury the one that matters: the
// kernel drops audit records once its backlog is full, the supervisor's
// socket overflows, and the last denial goes unalerted. The window is
// made deterministic by stopping the supervisor (SIGSTOP) during the
// flood, as a program hogging the CPUs would starve it. The attack
// works (the final denial is not alerted); the run must then say that
// records were lost (op=lost), not stay silent.
func TestEscapeAlertFlood(t *testing.T) {
	dir, exe := programSetup(t, "flood", floodC)
	ok := filepath.Join(dir, "ok.txt")
	if err := os.WriteFile(ok, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prof, _ := learnProfile(t, dir, "flood.sd", exe, "1", ok, ok)
	sink := newSyslog(t)
	const n = "30000"
	cmd := exec.Command(immunix(t), "run", "--profile", prof, "--", exe, n, "/etc/shadow", "/etc/gshadow", "wait")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), alert.SocketEnv+"="+sink.Path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// The program runs (immunix run has exec'd it, after handing the
	// supervisor its descriptors): stop the supervisor.
	var sup []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); target == exe {
			sup = childrenOf(t, pid)
			break
		}
	}
	if len(sup) != 1 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("want one supervisor child of the program, got %v\n%s", sup, errb.String())
	}
	testenv.StopProcess(t, sup[0])
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(sup[0], syscall.SIGCONT)
		}
	}()
	stdin.Write([]byte("x"))
	stdin.Close()
	out, _ := bufio.NewReader(stdout).ReadString('\n')
	syscall.Kill(sup[0], syscall.SIGCONT)
	stopped = false
	if err := cmd.Wait(); err != nil {
		t.Fatalf("immunix run: %v\n%s", err, errb.String())
	}
	if want := "flood " + n + "/" + n + " final refused\n"; out != want {
		t.Fatalf("confined flood printed %q, want %q", out, want)
	}
	alerts := sink.Alerts(t)
	if hasAlert(alerts, "read", "/etc/gshadow") {
		t.Fatalf("the final denial was alerted: the flood lost nothing, so this test shows nothing (%d alerts)", len(alerts))
	}
	var lost *alert.Alert
	for i := range alerts {
		if op, _ := alerts[i].Get("op"); op == "lost" {
			lost = &alerts[i]
		}
	}
	if lost == nil {
		t.Fatalf("%d alerts, none op=lost: the buried denial went unnoticed", len(alerts))
	}
	t.Logf("%d alerts for %s denials; %s", len(alerts), n, lost.Msg)
	if !strings.Contains(errb.String(), "op=lost") {
		t.Errorf("the lost-records alert is not on the program's stderr")
	}
}
