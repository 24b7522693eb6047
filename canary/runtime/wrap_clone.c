/* StackGuard: a fresh canary in the child of clone() without CLONE_VM.
 *
 * immunix-cc links with -Wl,--wrap=clone. Such a child has a copy of the
 * parent's memory and runs fn on a new stack: it starts in a trampoline
 * that gives it a new canary, then calls fn. Children that share memory
 * (CLONE_VM: threads, posix_spawn-like uses) pass straight through.
 *
 * Fixed arguments rather than "..." (see wrap_syscall.c), and the
 * trampoline's data is put at the top of the child's new stack, not in a
 * local: no local array, no address-taken local, so no canary is needed in
 * this runtime code built without one. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../guardlib/runtime/guard.h"

int __real_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
IMMUNIX_HIDDEN int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *ptid, void *tls, pid_t *ctid);

struct trampoline {
	int (*fn)(void *);
	void *arg;
};

static int start(void *p)
{
	struct trampoline *t = p;
	int (*fn)(void *) = t->fn;
	void *arg = t->arg;
	__immunix_renew_fresh_stack();
	return fn(arg);
}

int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, pid_t *ptid, void *tls, pid_t *ctid)
{
	if ((flags & CLONE_VM) || stack == 0)
		return __real_clone(fn, stack, flags, arg, ptid, tls, ctid);
	/* The stack grows down from stack: the trampoline's data goes just
	 * below its top, and the child's stack starts below that, 16-aligned. */
	uintptr_t top = (uintptr_t)stack;
	struct trampoline *t = (struct trampoline *)((top - sizeof(struct trampoline)) & ~(uintptr_t)15);
	t->fn = fn;
	t->arg = arg;
	return __real_clone(start, (void *)t, flags, t, ptid, tls, ctid);
}
