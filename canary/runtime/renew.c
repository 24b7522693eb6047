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

/* One fork handler per process, however many protected objects carry a copy
 * of the runtime: the first copy to initialise claims this flag. It has
 * default visibility so that every copy binds to the same one. */
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

static __attribute__((noinline)) void renew_in_child(void)
{
	if (renew_off)
		return;
	stack_t ss;
	if (sys3(SYS_sigaltstack, 0L, (long)(uintptr_t)&ss, 0L) == 0 && (ss.ss_flags & SS_ONSTACK))
		return;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t top = stack_top(sp);
	if (!top)
		return;
	uintptr_t old = read_canary(), nw;
	if (fresh(&nw) != 0)
		return; /* no entropy: keep the inherited canary rather than a weak one */
	nw &= ~(uintptr_t)0xff;
	if (nw == old)
		return;
	for (volatile uintptr_t *p = (volatile uintptr_t *)(sp & ~(uintptr_t)(sizeof(uintptr_t) - 1));
	     (uintptr_t)p + sizeof *p <= top; p++)
		if (*p == old)
			*p = nw;
	write_canary(nw);
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
		pthread_atfork(NULL, NULL, renew_in_child);
#endif
}
