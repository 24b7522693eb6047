/* StackGuard: a fresh canary in the child of _Fork().
 *
 * _Fork (glibc 2.34) forks without running the pthread_atfork handlers, so
 * renew.c's handler does not see its children. immunix-cc links with
 * -Wl,--wrap=_Fork: the program's calls come here, and the child renews its
 * canary before it returns to the caller. In a static program libc's fork()
 * calls _Fork too: its child is then renewed twice (here and by the atfork
 * handler), which is correct, only slower. */
#include <sys/types.h>

#include "../../guardlib/runtime/guard.h"

/* Linked when the program calls _Fork, and in every static link
 * (-Wl,-u,__wrap__Fork: the static libc's own fork() calls _Fork, and is
 * read after the runtime archive). */
pid_t __real__Fork(void);
IMMUNIX_HIDDEN pid_t __wrap__Fork(void);

pid_t __wrap__Fork(void)
{
	pid_t p = __real__Fork();
	if (p == 0)
		__immunix_renew_child();
	return p;
}
