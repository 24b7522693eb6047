/* FORTIFY alerts: the formatted-output, input, system-call and conversion
 * checks, and the common failure path. Same rules as fortify_str.c: glibc's
 * exact conditions, the plain function for the work, an alert on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wchar.h>

#include "../../guardlib/runtime/guard.h"

#define FAIL(name) __immunix_fortify_fail(name, __builtin_return_address(0))

void __immunix_fortify_fail_msg(const char *check, const void *ra, const char *msg)
{
	char extra[700];
	const void *a = (const char *)ra - 1;
	__immunix_locate(a, extra, sizeof extra - 80);
	size_t p = 0;
	while (extra[p])
		p++;
	const char *k = " check=";
	while (*k)
		extra[p++] = *k++;
	for (size_t i = 0; check[i] && p + 1 < sizeof extra; i++)
		extra[p++] = check[i];
	extra[p] = 0;
	__immunix_alert("fortify", a, extra, msg);
	__immunix_halt();
}

void __immunix_fortify_fail(const char *check, const void *ra)
{
	__immunix_fortify_fail_msg(check, ra, "buffer overflow detected");
}

/* glibc's printf-family checks with flag > 0 (_FORTIFY_SOURCE >= 2) also
 * refuse %n in a format in writable memory, and inconsistent %N$ arguments.
 *
 * %n: decided here, without opening any file (glibc reads /proc/self/maps;
 * an earlier version of this runtime ran glibc's check into /dev/null and
 * skipped it when no descriptor was free, e.g. under `ulimit -n`). A format
 * with a %n conversion (has_percent_n, glibc's grammar) is refused, with a
 * kind=fortify alert, unless every byte of it lies in read-only memory:
 *  - inside a non-writable PT_LOAD segment or the PT_GNU_RELRO range of a
 *    loaded object (dl_iterate_phdr: string literals, no system call), or
 *  - on pages the kernel refuses to write: process_vm_writev of the byte
 *    already there, to ourselves, succeeds on a writable page and fails
 *    with EFAULT on a read-only one (a read-only mmap of a file).
 * When neither can tell (process_vm_writev refused by a seccomp filter),
 * the format counts as writable: the check fails closed, as glibc's does
 * when it cannot read /proc/self/maps.
 *
 * %N$: glibc's own rule, applied by running the format through glibc's
 * __vfprintf_chk into a stream that discards its output (fopencookie: no
 * file descriptor; glibc then aborts with its own message exactly where it
 * would have). If that stream cannot be allocated, this one check is
 * skipped. Formats without '$' after a '%' skip it. */
extern int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap);

static int spec_digits_dollar(const char **pp)
{
	const char *q = *pp;
	while (*q >= '0' && *q <= '9')
		q++;
	if (q != *pp && *q == '$') {
		*pp = q + 1;
		return 1;
	}
	return 0;
}

/* Whether f has a %n conversion as glibc's printf reads formats:
 * %[n$][flags][width|*|*m$][.prec|.*|.*m$][length]conv. */
static int has_percent_n(const char *f)
{
	while ((f = strchr(f, '%')) != NULL) {
		f++;
		if (*f == '%') {
			f++;
			continue;
		}
		spec_digits_dollar(&f);
		while (*f && strchr(" +-#0'I", *f))
			f++;
		if (*f == '*') {
			f++;
			spec_digits_dollar(&f);
		} else {
			while (*f >= '0' && *f <= '9')
				f++;
		}
		if (*f == '.') {
			f++;
			if (*f == '*') {
				f++;
				spec_digits_dollar(&f);
			} else {
				while (*f >= '0' && *f <= '9')
					f++;
			}
		}
		while (*f && strchr("hlLqjzZt", *f))
			f++;
		if (*f == 'n')
			return 1;
		if (*f == 0)
			return 0;
		f++;
	}
	return 0;
}

struct ro_query {
	uintptr_t lo, hi;
	int inside;
};

static int ro_segment(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct ro_query *q = data;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (!((ph->p_type == PT_LOAD && !(ph->p_flags & PF_W)) || ph->p_type == PT_GNU_RELRO))
			continue;
		uintptr_t s = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
		if (q->lo >= s && q->hi <= s + (uintptr_t)ph->p_memsz) {
			q->inside = 1;
			return 1;
		}
	}
	return 0;
}

/* 1 when the page holding p can be written, 0 when the kernel refuses,
 * -1 when it cannot tell. Writes back the byte that is there. */
static int page_writable(const char *p)
{
	char c = *(const volatile char *)p;
	struct iovec local = {&c, 1}, remote = {(void *)(uintptr_t)p, 1};
	long n = syscall(SYS_process_vm_writev, (long)getpid(), &local, 1UL, &remote, 1UL, 0UL);
	if (n == 1)
		return 1;
	if (n < 0 && errno == EFAULT)
		return 0;
	return -1;
}

/* Whether any byte of the string fmt (with its NUL) may be in writable
 * memory. */
static int format_writable(const char *fmt)
{
	struct ro_query q = {(uintptr_t)fmt, (uintptr_t)fmt + strlen(fmt) + 1, 0};
	dl_iterate_phdr(ro_segment, &q);
	if (q.inside)
		return 0;
	uintptr_t pg = (uintptr_t)getauxval(AT_PAGESZ);
	if (pg == 0 || (pg & (pg - 1)) != 0)
		pg = 4096;
	for (uintptr_t a = q.lo; a < q.hi; a = (a & ~(pg - 1)) + pg)
		if (page_writable((const char *)a) != 0)
			return 1;
	return 0;
}

static ssize_t discard(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	(void)buf;
	return (ssize_t)n;
}

static void glibc_format_checks(const char *name, const void *ra, int flag, const char *fmt, va_list ap)
{
	if (flag <= 0)
		return;
	const char *pct = strchr(fmt, '%');
	if (!pct)
		return;
	int saved = errno; /* %m prints errno: the checks must not change it */
	if (strchr(pct, 'n') && has_percent_n(pct) && format_writable(fmt))
		__immunix_fortify_fail_msg(name, ra, "%n in writable format");
	if (strchr(pct, '$')) {
		cookie_io_functions_t io = {NULL, discard, NULL, NULL};
		FILE *sink = fopencookie(NULL, "w", io);
		if (sink) {
			va_list cp;
			va_copy(cp, ap);
			__vfprintf_chk(sink, flag, fmt, cp);
			va_end(cp);
			fclose(sink);
		}
	}
	errno = saved;
}

int __vsprintf_chk(char *s, int flag, size_t slen, const char *fmt, va_list ap);
int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...);
int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...);
int __vswprintf_chk(wchar_t *s, size_t maxlen, int flag, size_t slen, const wchar_t *fmt, va_list ap);
int __swprintf_chk(wchar_t *s, size_t maxlen, int flag, size_t slen, const wchar_t *fmt, ...);

static int vsprintf_chk(const char *name, const void *ra, char *s, int flag, size_t slen, const char *fmt, va_list ap)
{
	if (slen == 0)
		__immunix_fortify_fail(name, ra);
	glibc_format_checks(name, ra, flag, fmt, ap);
	int r = vsnprintf(s, slen, fmt, ap);
	if (r >= 0 && (size_t)r >= slen)
		__immunix_fortify_fail(name, ra);
	return r;
}

int __vsprintf_chk(char *s, int flag, size_t slen, const char *fmt, va_list ap)
{
	return vsprintf_chk("__vsprintf_chk", __builtin_return_address(0), s, flag, slen, fmt, ap);
}

int __sprintf_chk(char *s, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsprintf_chk("__sprintf_chk", __builtin_return_address(0), s, flag, slen, fmt, ap);
	va_end(ap);
	return r;
}

int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap)
{
	if (slen < maxlen)
		FAIL("__vsnprintf_chk");
	glibc_format_checks("__vsnprintf_chk", __builtin_return_address(0), flag, fmt, ap);
	return vsnprintf(s, maxlen, fmt, ap);
}

int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	if (slen < maxlen)
		FAIL("__snprintf_chk");
	va_list ap;
	va_start(ap, fmt);
	glibc_format_checks("__snprintf_chk", __builtin_return_address(0), flag, fmt, ap);
	int r = vsnprintf(s, maxlen, fmt, ap);
	va_end(ap);
	return r;
}

int __vswprintf_chk(wchar_t *s, size_t maxlen, int flag, size_t slen, const wchar_t *fmt, va_list ap)
{
	(void)flag;
	if (maxlen > slen)
		FAIL("__vswprintf_chk");
	return vswprintf(s, maxlen, fmt, ap);
}

int __swprintf_chk(wchar_t *s, size_t maxlen, int flag, size_t slen, const wchar_t *fmt, ...)
{
	(void)flag;
	if (maxlen > slen)
		FAIL("__swprintf_chk");
	va_list ap;
	va_start(ap, fmt);
	int r = vswprintf(s, maxlen, fmt, ap);
	va_end(ap);
	return r;
}

ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t nbytes, off64_t offset, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                       socklen_t *addrlen);
ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
ssize_t __readlinkat_chk(int fd, const char *path, char *buf, size_t len, size_t buflen);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
char *__getwd_chk(char *buf, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);
size_t __confstr_chk(int name, char *buf, size_t len, size_t buflen);
int __getgroups_chk(int size, gid_t *list, size_t listlen);
int __ttyname_r_chk(int fd, char *buf, size_t buflen, size_t nreal);
int __getlogin_r_chk(char *buf, size_t buflen, size_t nreal);
int __gethostname_chk(char *buf, size_t len, size_t buflen);
int __getdomainname_chk(char *buf, size_t len, size_t buflen);
int __ptsname_r_chk(int fd, char *buf, size_t buflen, size_t nreal);
int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *ss,
                size_t fdslen);
long int __fdelt_chk(long int d);
char *__fgets_chk(char *buf, size_t size, int n, FILE *fp);
char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);
int __wctomb_chk(char *s, wchar_t wchar, size_t buflen);
size_t __wcrtomb_chk(char *s, wchar_t wchar, mbstate_t *ps, size_t buflen);
size_t __mbstowcs_chk(wchar_t *dst, const char *src, size_t len, size_t dstlen);
size_t __wcstombs_chk(char *dst, const wchar_t *src, size_t len, size_t dstlen);
size_t __mbsrtowcs_chk(wchar_t *dst, const char **src, size_t len, mbstate_t *ps, size_t dstlen);
size_t __wcsrtombs_chk(char *dst, const wchar_t **src, size_t len, mbstate_t *ps, size_t dstlen);
size_t __mbsnrtowcs_chk(wchar_t *dst, const char **src, size_t nmc, size_t len, mbstate_t *ps, size_t dstlen);
size_t __wcsnrtombs_chk(char *dst, const wchar_t **src, size_t nwc, size_t len, mbstate_t *ps, size_t dstlen);

ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen)
{
	if (nbytes > buflen)
		FAIL("__read_chk");
	return read(fd, buf, nbytes);
}

ssize_t __pread_chk(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen)
{
	if (nbytes > buflen)
		FAIL("__pread_chk");
	return pread(fd, buf, nbytes, offset);
}

ssize_t __pread64_chk(int fd, void *buf, size_t nbytes, off64_t offset, size_t buflen)
{
	if (nbytes > buflen)
		FAIL("__pread64_chk");
	return pread64(fd, buf, nbytes, offset);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		FAIL("__recv_chk");
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                       socklen_t *addrlen)
{
	if (len > buflen)
		FAIL("__recvfrom_chk");
	return recvfrom(fd, buf, len, flags, addr, addrlen);
}

ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		FAIL("__readlink_chk");
	return readlink(path, buf, len);
}

ssize_t __readlinkat_chk(int fd, const char *path, char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		FAIL("__readlinkat_chk");
	return readlinkat(fd, path, buf, len);
}

char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		FAIL("__getcwd_chk");
	return getcwd(buf, size);
}

char *__getwd_chk(char *buf, size_t buflen)
{
	char *r = getcwd(buf, buflen);
	if (r == NULL && errno == ERANGE)
		FAIL("__getwd_chk");
	return r;
}

char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	if (resolvedlen < PATH_MAX)
		FAIL("__realpath_chk");
	return realpath(path, resolved);
}

size_t __confstr_chk(int name, char *buf, size_t len, size_t buflen)
{
	if (buflen < len)
		FAIL("__confstr_chk");
	return confstr(name, buf, len);
}

int __getgroups_chk(int size, gid_t *list, size_t listlen)
{
	if (size < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)size * sizeof(gid_t) > listlen)
		FAIL("__getgroups_chk");
	return getgroups(size, list);
}

int __ttyname_r_chk(int fd, char *buf, size_t buflen, size_t nreal)
{
	if (buflen > nreal)
		FAIL("__ttyname_r_chk");
	return ttyname_r(fd, buf, buflen);
}

int __getlogin_r_chk(char *buf, size_t buflen, size_t nreal)
{
	if (buflen > nreal)
		FAIL("__getlogin_r_chk");
	return getlogin_r(buf, buflen);
}

int __gethostname_chk(char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		FAIL("__gethostname_chk");
	return gethostname(buf, len);
}

int __getdomainname_chk(char *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		FAIL("__getdomainname_chk");
	return getdomainname(buf, len);
}

int __ptsname_r_chk(int fd, char *buf, size_t buflen, size_t nreal)
{
	if (buflen > nreal)
		FAIL("__ptsname_r_chk");
	return ptsname_r(fd, buf, buflen);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		FAIL("__poll_chk");
	return poll(fds, nfds, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *ss,
                size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		FAIL("__ppoll_chk");
	return ppoll(fds, nfds, timeout, ss);
}

long int __fdelt_chk(long int d)
{
	if (d < 0 || d >= FD_SETSIZE)
		FAIL("__fdelt_chk");
	return d / (long int)(8 * sizeof(fd_mask));
}

/* glibc reads at most min(n-1, size) bytes and fails when it has read size
 * of them (no room left for the NUL). fgets(buf, size) reads at most size-1;
 * when it stopped for lack of room, one more byte decides as glibc would. */
static char *fgets_chk(const char *name, const void *ra, char *buf, size_t size, int n, FILE *fp, int locked)
{
	if (n <= 0)
		return NULL;
	if ((size_t)n <= size) {
		if (n == 1)
			return NULL; /* glibc's __fgets_chk reads nothing and returns NULL */
		return locked ? fgets(buf, n, fp) : fgets_unlocked(buf, n, fp);
	}
	if (size == 0)
		return NULL; /* glibc reads min(n-1, 0) bytes: nothing */
	if (size == 1) {
		int c = locked ? getc(fp) : getc_unlocked(fp);
		if (c == EOF)
			return NULL;
		__immunix_fortify_fail(name, ra);
	}
	char *r = locked ? fgets(buf, (int)size, fp) : fgets_unlocked(buf, (int)size, fp);
	if (!r)
		return r;
	size_t l = strlen(buf);
	if (l < size - 1 || buf[l - 1] == '\n')
		return r;
	int c = locked ? getc(fp) : getc_unlocked(fp);
	if (c == EOF)
		return r;
	__immunix_fortify_fail(name, ra);
}

char *__fgets_chk(char *buf, size_t size, int n, FILE *fp)
{
	return fgets_chk("__fgets_chk", __builtin_return_address(0), buf, size, n, fp, 1);
}

char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp)
{
	return fgets_chk("__fgets_unlocked_chk", __builtin_return_address(0), buf, size, n, fp, 0);
}

static int fread_bad(size_t ptrlen, size_t size, size_t n)
{
	size_t bytes = size * n;
	if ((n | size) >= ((size_t)1) << (8 * sizeof(size_t) / 2) && size != 0 && bytes / size != n)
		return 1;
	return bytes > ptrlen;
}

size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp)
{
	if (fread_bad(ptrlen, size, n))
		FAIL("__fread_chk");
	return fread(ptr, size, n, fp);
}

size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp)
{
	if (fread_bad(ptrlen, size, n))
		FAIL("__fread_unlocked_chk");
	return fread_unlocked(ptr, size, n, fp);
}

int __wctomb_chk(char *s, wchar_t wchar, size_t buflen)
{
	if (buflen < MB_CUR_MAX)
		FAIL("__wctomb_chk");
	return wctomb(s, wchar);
}

size_t __wcrtomb_chk(char *s, wchar_t wchar, mbstate_t *ps, size_t buflen)
{
	if (buflen < MB_CUR_MAX)
		FAIL("__wcrtomb_chk");
	return wcrtomb(s, wchar, ps);
}

size_t __mbstowcs_chk(wchar_t *dst, const char *src, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__mbstowcs_chk");
	return mbstowcs(dst, src, len);
}

size_t __wcstombs_chk(char *dst, const wchar_t *src, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__wcstombs_chk");
	return wcstombs(dst, src, len);
}

size_t __mbsrtowcs_chk(wchar_t *dst, const char **src, size_t len, mbstate_t *ps, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__mbsrtowcs_chk");
	return mbsrtowcs(dst, src, len, ps);
}

size_t __wcsrtombs_chk(char *dst, const wchar_t **src, size_t len, mbstate_t *ps, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__wcsrtombs_chk");
	return wcsrtombs(dst, src, len, ps);
}

size_t __mbsnrtowcs_chk(wchar_t *dst, const char **src, size_t nmc, size_t len, mbstate_t *ps, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__mbsnrtowcs_chk");
	return mbsnrtowcs(dst, src, nmc, len, ps);
}

size_t __wcsnrtombs_chk(char *dst, const wchar_t **src, size_t nwc, size_t len, mbstate_t *ps, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__wcsnrtombs_chk");
	return wcsnrtombs(dst, src, nwc, len, ps);
}
