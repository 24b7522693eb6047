/* StackGuard: a fresh canary in the child of syscall(SYS_fork) and of
 * syscall(SYS_clone / SYS_clone3) without CLONE_VM on the same stack.
 *
 * immunix-cc links with -Wl,--wrap=syscall; every other system call passes
 * straight through. vfork and CLONE_VM children share the parent's memory
 * and must not change it: they are left alone.
 *
 * Declared with six fixed arguments rather than "...": the x86 calling
 * conventions pass a variadic call's integer arguments exactly where these
 * are read (registers on x86-64, the stack on i386), and without a va_list
 * (an array) the function has no local array: like the rest of the runtime
 * it is built without a canary, and needs none. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../guardlib/runtime/guard.h"

long __real_syscall(long n, ...);
IMMUNIX_HIDDEN long __wrap_syscall(long n, long a, long b, long c, long d, long e, long f);

/* Whether system call n with first argument a, second b, copies the
 * address space and returns in the child on the caller's stack. */
static int forks_here(long n, long a, long b)
{
#ifdef SYS_fork
	if (n == SYS_fork)
		return 1;
#endif
	if (n == SYS_clone)
		return !(a & CLONE_VM) && b == 0;
#ifdef SYS_clone3
	if (n == SYS_clone3 && a != 0) {
		/* struct clone_args: flags at 0, stack at 40 (u64 fields) */
		const uint64_t *ca = (const uint64_t *)(uintptr_t)a;
		return !(ca[0] & CLONE_VM) && ca[5] == 0;
	}
#endif
	return 0;
}

long __wrap_syscall(long n, long a, long b, long c, long d, long e, long f)
{
	long r = __real_syscall(n, a, b, c, d, e, f);
	if (r == 0 && forks_here(n, a, b))
		__immunix_renew_child();
	return r;
}
