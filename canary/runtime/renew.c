/* StackGuard: a fresh canary in every child of fork().
 *
 * A forked child inherits its parent's canary, so a forking server that
 * crashes a child per wrong guess lets an attacker learn the canary one byte
 * at a time (at most 256 tries per byte: the BROP attack). Here a
 * pthread_atfork child handler gives the child a new random canary, and
 * rewrites the copies of the old one that the frames it inherited keep on its
 * stack, so they still return correctly.
 *
 * The canary stays where GCC and clang read it, in the thread control block:
 * %fs:0x28 on x86-64, %fs:0x18 on x32, %gs:0x14 on i386, with the same width
 * and its lowest byte zero (glibc's convention, which stops string copies).
 *
 * What is rewritten: every aligned word equal to the old canary between the
 * handler's own frame and the top of the forking thread's stack
 * (__libc_stack_end for the main thread, the thread's stack block otherwise).
 * What is not, and so keeps the parent's canary (see docs/stackguard.md):
 *  - a fork() called on an alternate signal stack (sigaltstack): the
 *    interrupted frames are elsewhere, so no renewal at all;
 *  - frames on stacks the program made itself (makecontext, coroutines);
 *  - vfork(), posix_spawn(), system(), _Fork() and raw clone()/fork system
 *    calls: they run no atfork handlers (vfork and posix_spawn children share
 *    the parent's memory and must not change it);
 *  - stack words that happen to equal the old canary are rewritten too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../guardlib/runtime/guard.h"

#if defined(__x86_64__) || defined(__i386__)
#define IMMUNIX_RENEW 1
#endif

/* One fork handler per program and the libraries that link against it:
 * the first copy to initialise claims this flag. It has default visibility
 * so that the copies bind to the same one; a shared library links the
 * runtime hidden (--exclude-libs), so its copy claims its own flag, and
 * fork_canary keeps the extra handlers from renewing twice. */
int __immunix_renew_claimed __attribute__((visibility("default")));

/* The settings the child reads, kept together so they share one page. */
static int renew_off;
/* RLIMIT_STACK at start-up: bounds how far below __libc_stack_end the main
 * thread's stack can reach (read once, to keep a system call off fork). */
static uintptr_t main_stack_lim = 64u << 20;
/* __libc_stack_end, copied at start-up next to the other settings (the
 * loader's page holding it would be one more fault in every child). */
static uintptr_t main_stack_end;

#ifdef IMMUNIX_RENEW
extern void *__libc_stack_end;

static inline uintptr_t read_canary(void)
{
	uintptr_t v;
#if defined(__x86_64__) && defined(__ILP32__)
	__asm__ volatile("movl %%fs:0x18, %0" : "=r"(v));
#elif defined(__x86_64__)
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
#else
	__asm__ volatile("movl %%gs:0x14, %0" : "=r"(v));
#endif
	return v;
}

static inline void write_canary(uintptr_t v)
{
#if defined(__x86_64__) && defined(__ILP32__)
	__asm__ volatile("movl %0, %%fs:0x18" : : "r"(v) : "memory");
#elif defined(__x86_64__)
	__asm__ volatile("movq %0, %%fs:0x28" : : "r"(v) : "memory");
#else
	__asm__ volatile("movl %0, %%gs:0x14" : : "r"(v) : "memory");
#endif
}

/* The child runs these before anything else: direct system calls, so it
 * does not fault in the pages of libc's wrappers (each first touch of a page
 * after fork costs a page fault, and this is on every fork's path). Returns
 * the kernel's result, -errno on failure. */
static inline long sys3(long n, long a, long b, long c)
{
	long r;
#if defined(__x86_64__)
	__asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
#else
	__asm__ volatile("int $0x80" : "=a"(r) : "0"(n), "b"(a), "c"(b), "d"(c) : "memory");
#endif
	return r;
}

static int fresh(uintptr_t *out)
{
	for (;;) {
		long r = sys3(SYS_getrandom, (long)(uintptr_t)out, (long)sizeof *out, 0L);
		if (r == (long)sizeof *out)
			return 0;
		if (r != -EINTR)
			return -1;
	}
}

/* The top (highest address, exclusive) of the stack sp is on, or 0. The
 * main thread's is __libc_stack_end (thread stacks are mapped at least
 * 128 MiB away from it, beyond main_stack_lim); another thread's comes from
 * its descriptor (pthread_getattr_np, which reads no file for a thread). */
static uintptr_t stack_top(uintptr_t sp)
{
	uintptr_t end = main_stack_end;
	if (end && sp < end && end - sp <= main_stack_lim)
		return end; /* main thread: __libc_stack_end is just above main's frames */
	pthread_attr_t at;
	if (pthread_getattr_np(pthread_self(), &at) != 0)
		return 0;
	void *addr = NULL;
	size_t size = 0;
	int ok = pthread_attr_getstack(&at, &addr, &size) == 0;
	pthread_attr_destroy(&at);
	uintptr_t top = (uintptr_t)addr + size;
	if (!ok || sp < (uintptr_t)addr || sp >= top)
		return 0;
	return top;
}

/* The frames of the renewal itself, from the caller's frame down: they
 * may hold a spilled copy of the old canary that the scan compares with,
 * so they are never rewritten. Set by __immunix_renew_child. */
static uintptr_t own_frames_top;

static void rewrite_range(uintptr_t lo, uintptr_t hi, uintptr_t old, uintptr_t nw)
{
	for (volatile uintptr_t *p = (volatile uintptr_t *)((lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1));
	     (uintptr_t)p + sizeof *p <= hi; p++)
		if (*p == old)
			*p = nw;
}

/* Rewrites old to nw in [lo, hi), except the renewal's own frames: from
 * just below this function's frame (its red zone) up to own_frames_top. */
static __attribute__((noinline)) void rewrite(uintptr_t lo, uintptr_t hi, uintptr_t old, uintptr_t nw)
{
	uintptr_t self = (uintptr_t)__builtin_frame_address(0) - 256;
	uintptr_t top = own_frames_top;
	if (top <= self || hi <= self || lo >= top) {
		rewrite_range(lo, hi, old, nw);
		return;
	}
	if (lo < self)
		rewrite_range(lo, self, old, nw);
	if (hi > top)
		rewrite_range(top, hi, old, nw);
}

static long sysopen(const char *path)
{
#if defined(__x86_64__)
	return sys3(SYS_openat, -100L /* AT_FDCWD */, (long)(uintptr_t)path, (long)(O_RDONLY | O_CLOEXEC));
#else
	return sys3(SYS_open, (long)(uintptr_t)path, (long)(O_RDONLY | O_CLOEXEC), 0L);
#endif
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One line of /proc/self/maps: "lo-hi perms offset dev inode path". A
 * private, writable, anonymous mapping (inode 0: heap, stacks, mmap'd
 * coroutine stacks) is scanned; file mappings are not (a page past the end
 * of the file would fault), nor shared ones (the parent would see it). */
static void maps_line(const char *l, const char *end, uintptr_t old, uintptr_t nw)
{
	uintptr_t lo = 0, hi = 0;
	int v;
	while (l < end && (v = hexval(*l)) >= 0)
		lo = lo * 16 + (uintptr_t)v, l++;
	if (l >= end || *l++ != '-')
		return;
	while (l < end && (v = hexval(*l)) >= 0)
		hi = hi * 16 + (uintptr_t)v, l++;
	if (end - l < 6 || l[0] != ' ' || l[1] != 'r' || l[2] != 'w' || l[4] != 'p')
		return;
	l += 6;
	for (int field = 0; field < 2; field++) { /* offset, dev */
		while (l < end && *l != ' ')
			l++;
		while (l < end && *l == ' ')
			l++;
	}
	if (l >= end || l[0] != '0' || (l + 1 < end && l[1] != ' ' && l[1] != '\n'))
		return; /* inode != 0 */
	if (hi > lo)
		rewrite(lo, hi, old, nw);
}

/* Rewrites old to nw in every private writable anonymous mapping, from
 * /proc/self/maps read with raw system calls (no stdio, no malloc: the
 * child of a multi-threaded parent may find their locks held). Returns -1
 * when the file cannot be read (then nothing was changed). */
static int rewrite_everywhere(uintptr_t old, uintptr_t nw)
{
	long fd = sysopen("/proc/self/maps");
	if (fd < 0)
		return -1;
	char buf[4096];
	size_t have = 0;
	int ok = 0;
	for (;;) {
		long n = sys3(SYS_read, fd, (long)(uintptr_t)(buf + have), (long)(sizeof buf - have));
		if (n == -EINTR)
			continue;
		if (n < 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] == '\n') {
				maps_line(buf + start, buf + i, old, nw);
				start = i + 1;
				ok = 1;
			}
		}
		if (n == 0) {
			if (start < have)
				maps_line(buf + start, buf + have, old, nw);
			break;
		}
		if (start == 0 && have == sizeof buf)
			have = 0; /* a line longer than the buffer: not a mapping line we need */
		else {
			for (size_t i = start; i < have; i++)
				buf[i - start] = buf[i];
			have -= start;
		}
	}
	sys3(SYS_close, fd, 0L, 0L);
	return ok ? 0 : -1;
}

/* Gives the calling process (a child just forked, by whatever means) a
 * fresh canary and rewrites the copies of the old one that its live frames
 * hold. On the forking thread's own stack (main stack or, unless as_safe, a
 * thread stack found with pthread_getattr_np), only that stack from this
 * frame up is scanned. On any other stack (a
 * coroutine stack from makecontext, a stack the program allocated), every
 * private writable anonymous mapping is, so that the frames of the
 * coroutines suspended elsewhere, and of the context that switched to this
 * one, are rewritten too; when /proc/self/maps cannot be read, nothing is
 * renewed. */
static __attribute__((noinline)) void renew(int as_safe)
{
	if (renew_off)
		return;
	stack_t ss;
	if (sys3(SYS_sigaltstack, 0L, (long)(uintptr_t)&ss, 0L) == 0 && (ss.ss_flags & SS_ONSTACK))
		return;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t top = 0;
	if (!as_safe)
		top = stack_top(sp);
	else if (main_stack_end && sp < main_stack_end && main_stack_end - sp <= main_stack_lim)
		top = main_stack_end;
	uintptr_t old = read_canary(), nw;
	if (fresh(&nw) != 0)
		return; /* no entropy: keep the inherited canary rather than a weak one */
	nw &= ~(uintptr_t)0xff;
	if (nw == old)
		return;
	own_frames_top = sp;
	if (top)
		rewrite(sp, top, old, nw);
	else if (rewrite_everywhere(old, nw) != 0)
		return;
	write_canary(nw);
}

/* fork() sets this in the forking thread from its prepare handler to its
 * child handler: the static libc's fork calls the wrapped _Fork, whose
 * child must then leave the renewal to the handler (it runs after libc has
 * reset the locks its prepare step took). */
static __thread int in_fork;

/* The canary when fork() began. A shared library built by immunix carries
 * its own hidden copy of this code, so a process can have several fork
 * handlers (its own __immunix_renew_claimed each): the first child handler
 * renews, the others find the canary already changed and leave it. */
static __thread uintptr_t fork_canary;

static void fork_prepare(void)
{
	in_fork = 1;
	fork_canary = read_canary();
}

static void fork_parent(void)
{
	in_fork = 0;
}

void __immunix_renew_child(void)
{
	if (in_fork)
		return;
	/* _Fork, syscall(SYS_fork): the child of a multi-threaded parent may
	 * only do what is async-signal-safe (no pthread_getattr_np: malloc). */
	renew(1);
}

/* The child of clone() running on a new stack of its own: none of the
 * inherited frames is live in it, so only the canary changes. */
void __immunix_renew_fresh_stack(void)
{
	if (renew_off)
		return;
	uintptr_t nw;
	if (fresh(&nw) != 0)
		return;
	write_canary(nw & ~(uintptr_t)0xff);
}

static void renew_in_child(void)
{
	in_fork = 0;
	if (read_canary() != fork_canary)
		return;
	renew(0);
}
#else
void __immunix_renew_child(void)
{
}

void __immunix_renew_fresh_stack(void)
{
}
#endif

void __immunix_canary_init(void)
{
#ifdef IMMUNIX_RENEW
	main_stack_end = (uintptr_t)__libc_stack_end;
	struct rlimit rl;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < main_stack_lim)
		main_stack_lim = (uintptr_t)rl.rlim_cur;
	if (!__immunix_secure()) {
		const char *v = getenv("IMMUNIX_CANARY_RENEW");
		if (v && strcmp(v, "0") == 0)
			renew_off = 1;
	}
	if (__atomic_exchange_n(&__immunix_renew_claimed, 1, __ATOMIC_ACQ_REL) == 0)
		pthread_atfork(fork_prepare, fork_parent, renew_in_child);
#endif
}
