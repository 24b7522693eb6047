/* StackGuard: the intruder alert for a dead canary.
 *
 * GCC and clang call __stack_chk_fail (or, for 32-bit x86 position-independent
 * code, the hidden __stack_chk_fail_local) from the epilogue of a function
 * whose canary no longer matches. The link wraps both names
 * (-Wl,--wrap=__stack_chk_fail -Wl,--wrap=__stack_chk_fail_local,
 * guardlib.WrappedFuncs): every call of either in the program or library
 * being linked, and in the static libc's objects, reaches
 * __wrap___stack_chk_fail below, which raises one kind=stackguard alert and
 * halts. Both are hidden: the file exports nothing new, and it
 * imports glibc's __stack_chk_fail (as __real___stack_chk_fail), as its
 * plain build does, which is what the symbol-based checkers read
 * (docs/stackguard.md, "What the checkers see"). glibc's is called only if
 * the kernel refused the halting signal. A library not linked by immunix
 * keeps calling glibc's: its smash ends in glibc's message and abort, with
 * no immunix alert.
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

IMMUNIX_HIDDEN void __wrap___stack_chk_fail(void) __attribute__((noreturn));
IMMUNIX_HIDDEN void __wrap___stack_chk_fail_local(void) __attribute__((noreturn));
/* Weak: a static link does not pull libc.a's stack_chk_fail.o for it
 * (that object also defines __stack_chk_fail_local); a dynamic link
 * imports glibc's. */
void __real___stack_chk_fail(void) __attribute__((noreturn, weak));

static __attribute__((noinline, noreturn)) void smashed(const void *ra)
{
	char where[600];
	const void *a = (const char *)ra - 1;
	__immunix_alert("stackguard", a, __immunix_locate(a, where, sizeof where), "stack canary overwritten");
	__immunix_halt_signal();
	/* The kernel refused SIGABRT: glibc's ends the process its way. */
	if (__real___stack_chk_fail)
		__real___stack_chk_fail();
	__immunix_halt();
}

void __wrap___stack_chk_fail(void) { smashed(__builtin_return_address(0)); }

/* The same code under the second name, not a second function: with two
 * identical bodies gcc's identical code folding (-O2, -m32) made this one a
 * call of the other, whose return address then pointed here instead of into
 * the function whose canary died.
 *
 * It is the wrapper of __stack_chk_fail_local, never that name itself:
 * libc_nonshared.a (the libc.so linker script) also defines
 * __stack_chk_fail_local, and a link that names -lc before the runtime
 * archive (zlib's -m32 shared library: "... *.lo -lc") took glibc's first,
 * then this object for __wrap___stack_chk_fail, and failed with "multiple
 * definition of __stack_chk_fail_local". Wrapped, no reference is left to
 * pull glibc's copy, whose call of __stack_chk_fail would also put the
 * alert's address in it instead of in the smashed function. */
void __wrap___stack_chk_fail_local(void) __attribute__((alias("__wrap___stack_chk_fail")));
