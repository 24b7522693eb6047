/* StackGuard: the intruder alert for a dead canary.
 *
 * GCC and clang call __stack_chk_fail (or, for 32-bit x86 position-independent
 * code, the hidden __stack_chk_fail_local) from the epilogue of a function
 * whose canary no longer matches. These replacements, linked into the program
 * ahead of libc, raise one kind=stackguard alert and halt.
 *
 * The address reported is the return address of that call minus one: a byte
 * of the call instruction, so inside the function whose canary died (the call
 * is often the function's last instruction, and the return address itself
 * would already belong to the next function). It is read from this frame
 * (__builtin_return_address(0)), which the overflow did not reach.
 *
 * No symbol name (fn=) is given: finding one needs either dladdr, which takes
 * the dynamic loader's lock and is not async-signal-safe, or the symbol table,
 * which is not mapped at run time. The alert carries instead the object and
 * offset (obj=, off=), which `addr2line -f -e OBJ OFF` turns into a name. */
#include <stdint.h>

#include "../../guardlib/runtime/guard.h"

void __stack_chk_fail(void) __attribute__((noreturn));
IMMUNIX_HIDDEN void __stack_chk_fail_local(void) __attribute__((noreturn));

static __attribute__((noinline, noreturn)) void smashed(const void *ra)
{
	char where[600];
	const void *a = (const char *)ra - 1;
	__immunix_alert("stackguard", a, __immunix_locate(a, where, sizeof where), "stack canary overwritten");
	__immunix_halt();
}

void __stack_chk_fail(void) { smashed(__builtin_return_address(0)); }

void __stack_chk_fail_local(void) { smashed(__builtin_return_address(0)); }
