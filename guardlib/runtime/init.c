/* immunix guard runtime: the initialiser.
 *
 * immunix-cc links with -Wl,-u,__immunix_guard_init, which pulls this object
 * (and through it the alert writer and the canary renewal) out of
 * libimmunix-guard.a into every protected executable and shared object. It is
 * a constructor, so it runs before main (or when a library is loaded), while
 * the process can still be trusted: it caches the program name and installs
 * the fork handler. It is hidden: each linked object has its own copy and
 * nothing calls it by name at run time. */
#include "guard.h"

IMMUNIX_HIDDEN __attribute__((constructor(101))) void __immunix_guard_init(void);

void __immunix_guard_init(void)
{
	__immunix_alert_init();
	__immunix_canary_init();
}
