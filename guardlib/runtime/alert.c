/* immunix guard runtime: the alert writer (see alert.h and
 * docs/contracts.md, "The alert format").
 *
 * Why it looks like this:
 *  - It runs after the process has been attacked: on a smashed stack, maybe
 *    with a corrupted heap, maybe inside a signal handler. So it uses only
 *    system calls and async-signal-safe libc wrappers (readlink, socket,
 *    sendmsg, writev, open, close, getpid, getuid, sigaction, sigprocmask,
 *    sigpending, sigtimedwait), no malloc, no stdio, no locks, and its own
 *    small stack buffers.
 *  - The program name comes from /proc/self/exe, read once at start-up and
 *    kept escaped in a static buffer (or read at alert time if the alert
 *    comes before initialisation), never from argv[0], which lives on the
 *    attacked stack and is under the attacker's control (CVE-2010-3192).
 *  - IMMUNIX_SYSLOG_SOCKET is read at start-up too (the environment strings
 *    live above main's frame, where an overflow can reach them), and only
 *    when the process is not in secure-execution mode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"

#define EXE_MAX 4096
/* Escaping turns one byte into at most four. */
static char exe_esc[EXE_MAX * 4 + 1];
static volatile int exe_ready;

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int sock_override;

/* Where this copy of the runtime is loaded: [obj_lo, obj_hi) with load bias
 * obj_bias; obj_esc is the escaped path, empty for the main program. */
static uintptr_t obj_lo, obj_hi, obj_bias;
static char obj_esc[512];

int __immunix_secure(void) { return getauxval(AT_SECURE) != 0; }

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Appends src escaped (bytes outside 0x21..0x7e and '\' as \xNN; when
 * keep_space, 0x20 stays) to dst[*pos..n-1], always NUL-terminating. */
static void esc(char *dst, size_t *pos, size_t n, const char *src, size_t len, int keep_space)
{
	static const char hex[] = "0123456789abcdef";
	size_t p = *pos;
	for (size_t i = 0; i < len && p + 5 < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if ((c > 0x20 && c < 0x7f && c != '\\') || (keep_space && c == ' ')) {
			dst[p++] = (char)c;
		} else {
			dst[p++] = '\\';
			dst[p++] = 'x';
			dst[p++] = hex[c >> 4];
			dst[p++] = hex[c & 15];
		}
	}
	if (p < n)
		dst[p] = 0;
	*pos = p;
}

size_t __immunix_escape(char *dst, size_t n, const char *src)
{
	size_t pos = 0;
	if (n)
		dst[0] = 0;
	esc(dst, &pos, n, src, slen(src), 0);
	return pos;
}

static void put(char *dst, size_t *pos, size_t n, const char *src)
{
	size_t p = *pos;
	while (*src && p + 1 < n)
		dst[p++] = *src++;
	dst[p] = 0;
	*pos = p;
}

static void put_num(char *dst, size_t *pos, size_t n, uintptr_t v, int base)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[3 * sizeof v + 3];
	size_t t = sizeof tmp;
	tmp[--t] = 0;
	do {
		tmp[--t] = digits[v % (uintptr_t)base];
		v /= (uintptr_t)base;
	} while (v);
	if (base == 16) {
		tmp[--t] = 'x';
		tmp[--t] = '0';
	}
	put(dst, pos, n, tmp + t);
}

static void load_exe(void)
{
	char path[EXE_MAX];
	ssize_t r = readlink("/proc/self/exe", path, sizeof path);
	size_t pos = 0;
	if (r <= 0 || (size_t)r >= sizeof path) {
		/* No /proc, or an overlong name: say so rather than guess. */
		put(exe_esc, &pos, sizeof exe_esc, "?");
	} else {
		esc(exe_esc, &pos, sizeof exe_esc, path, (size_t)r, 0);
	}
	exe_ready = 1;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	uintptr_t want = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (want < lo || want >= hi)
		return 0;
	obj_lo = lo;
	obj_hi = hi;
	obj_bias = info->dlpi_addr;
	size_t pos = 0;
	obj_esc[0] = 0;
	/* The main program has an empty name; the vDSO and libraries have one. */
	if (info->dlpi_name && info->dlpi_name[0])
		esc(obj_esc, &pos, sizeof obj_esc, info->dlpi_name, slen(info->dlpi_name), 0);
	return 1;
}

void __immunix_alert_init(void)
{
	if (!exe_ready)
		load_exe();
	if (!__immunix_secure()) {
		const char *s = getenv("IMMUNIX_SYSLOG_SOCKET");
		if (s && *s && slen(s) < sizeof sock_path) {
			memcpy(sock_path, s, slen(s) + 1);
			sock_override = 1;
		}
	}
	dl_iterate_phdr(find_self, (void *)(uintptr_t)&__immunix_alert_init);
}

char *__immunix_locate(const void *addr, char *buf, size_t n)
{
	uintptr_t a = (uintptr_t)addr;
	size_t pos = 0;
	buf[0] = 0;
	if (obj_hi == 0 || a < obj_lo || a >= obj_hi) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 35)
		/* Another object: a library's failed FORTIFY check reaches the
		 * program's exported __*_chk. (A library's dead canary reaches
		 * its own hidden copy of this runtime, for which the library is
		 * the object found by find_self.) _dl_find_object takes no lock
		 * and is async-signal-safe (glibc 2.35). */
		struct dl_find_object fo;
		if (_dl_find_object((void *)addr, &fo) == 0 && fo.dlfo_link_map) {
			const char *name = fo.dlfo_link_map->l_name;
			if (name && name[0]) {
				put(buf, &pos, n, " obj=");
				esc(buf, &pos, n, name, slen(name), 0);
			}
			put(buf, &pos, n, " off=");
			put_num(buf, &pos, n, a - (uintptr_t)fo.dlfo_link_map->l_addr, 16);
		}
#endif
		return buf;
	}
	if (obj_esc[0]) {
		put(buf, &pos, n, " obj=");
		put(buf, &pos, n, obj_esc);
	}
	put(buf, &pos, n, " off=");
	put_num(buf, &pos, n, a - obj_bias, 16);
	return buf;
}

/* Never blocks: a process that is being halted must not hang on a stalled
 * syslog daemon (a full queue falls back to /dev/kmsg, like a missing one). */
static int send_syslog(const struct iovec *iov, int cnt)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	const char *p = sock_override ? sock_path : "/dev/log";
	size_t l = slen(p);
	memcpy(sa.sun_path, p, l);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_name = &sa;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1);
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)cnt;
	ssize_t r;
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r < 0 ? -1 : 0;
}

static void write_all(int fd, const struct iovec *in, int cnt)
{
	struct iovec buf[8], *iov = buf;
	if (cnt > 8)
		cnt = 8;
	for (int i = 0; i < cnt; i++)
		buf[i] = in[i];
	while (cnt > 0) {
		ssize_t r = writev(fd, iov, cnt);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
}

void __immunix_alert(const char *kind, const void *addr, const char *extra, const char *msg)
{
	int saved_errno = errno;
	if (!exe_ready)
		load_exe();

	char hdr[48];
	size_t hp = 0;
	put(hdr, &hp, sizeof hdr, "<81>immunix[");
	put_num(hdr, &hp, sizeof hdr, (uintptr_t)getpid(), 10);
	put(hdr, &hp, sizeof hdr, "]: ");

	char pre[96];
	size_t pp = 0;
	put(pre, &pp, sizeof pre, "immunix alert: kind=");
	esc(pre, &pp, sizeof pre, kind, slen(kind), 0);
	put(pre, &pp, sizeof pre, " exe=");

	char post[2048];
	size_t qp = 0;
	put(post, &qp, sizeof post, " pid=");
	put_num(post, &qp, sizeof post, (uintptr_t)getpid(), 10);
	put(post, &qp, sizeof post, " uid=");
	put_num(post, &qp, sizeof post, (uintptr_t)getuid(), 10);
	if (addr) {
		put(post, &qp, sizeof post, " addr=");
		put_num(post, &qp, sizeof post, (uintptr_t)addr, 16);
	}
	if (extra)
		put(post, &qp, sizeof post - 1024, extra);
	put(post, &qp, sizeof post, " msg=");
	esc(post, &qp, sizeof post, msg, slen(msg), 1);

	struct iovec iov[5] = {
		{hdr, hp},
		{pre, pp},
		{exe_esc, slen(exe_esc)},
		{post, qp},
		{"\n", 1},
	};
	if (send_syslog(iov, 4) != 0) {
		int k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (k >= 0) {
			/* One writev is one kernel log record. It must end in
			 * a newline: the kernel keeps a record without one open
			 * for continuation, and readers of the log (dmesg,
			 * journald) do not see it until some later printk
			 * closes it, which may be never. */
			write_all(k, iov, 5);
			close(k);
		}
	}
	/* A stderr whose reader is gone must not turn the halt that follows
	 * into a death by SIGPIPE: block it around the write and discard one
	 * the write raised. */
	sigset_t pipe_set, old_mask, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	int blocked = sigprocmask(SIG_BLOCK, &pipe_set, &old_mask) == 0;
	int was_pending = blocked && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	write_all(2, iov + 1, 4);
	if (blocked) {
		if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
			struct timespec zero = {0, 0};
			sigtimedwait(&pipe_set, NULL, &zero);
		}
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
	errno = saved_errno;
}

void __immunix_halt(void)
{
	__immunix_halt_signal();
	for (;;)
		syscall(SYS_exit_group, 127L);
}

void __immunix_halt_signal(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGABRT, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGABRT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* Thread-directed, default action: the whole process dies with a core,
	 * with no atexit handlers and no stdio flush. */
	syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)SIGABRT);
	/* Returns only if the kernel refused the signal. */
}
