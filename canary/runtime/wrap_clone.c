/* StackGuard: a fresh canary in the child of clone() without CLONE_VM.
 *
 * immunix-cc links with -Wl,--wrap=clone. Such a child has a copy of the
 * parent's memory and runs fn on a new stack: it starts in a trampoline
 * that gives it a new canary, then calls fn. Children that share memory
 * (CLONE_VM: threads, posix_spawn-like uses) pass straight through. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

#include "../../guardlib/runtime/guard.h"

int __real_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
IMMUNIX_HIDDEN int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

struct trampoline {
	int (*fn)(void *);
	void *arg;
};

static int start(void *p)
{
	/* p points into the parent's frame below, of which the child has its
	 * own copy. */
	struct trampoline *t = p;
	int (*fn)(void *) = t->fn;
	void *arg = t->arg;
	__immunix_renew_fresh_stack();
	return fn(arg);
}

int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (flags & CLONE_VM)
		return __real_clone(fn, stack, flags, arg, ptid, tls, ctid);
	struct trampoline t = {fn, arg};
	return __real_clone(start, stack, flags, &t, ptid, tls, ctid);
}
