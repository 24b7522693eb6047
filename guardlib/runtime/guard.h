/* immunix guard runtime: internal interfaces between the parts of the
 * runtime archive (guardlib/runtime, canary/runtime). Not for users. */
#ifndef IMMUNIX_GUARD_H
#define IMMUNIX_GUARD_H

#include <stddef.h>

#include "alert.h"

/* Caches what alerts need (program name, syslog socket, where this copy of
 * the runtime is loaded) while the process is still trustworthy. Called from
 * __immunix_guard_init; safe to call again. */
IMMUNIX_HIDDEN void __immunix_alert_init(void);

/* Installs canary renewal after fork (canary/runtime/renew.c). */
IMMUNIX_HIDDEN void __immunix_canary_init(void);

/* Renews the canary in a child that was just forked (any way that copies
 * the address space), rewriting the copies its live frames hold. */
IMMUNIX_HIDDEN void __immunix_renew_child(void);

/* Renews the canary in the child of clone() that runs on a new stack. */
IMMUNIX_HIDDEN void __immunix_renew_fresh_stack(void);

/* Writes " obj=PATH off=0xOFF" (obj only for a shared object) into buf for
 * the loaded object addr lies in (this copy's own, else the one glibc's
 * _dl_find_object names), else "". Async-signal-safe. Returns buf. */
IMMUNIX_HIDDEN char *__immunix_locate(const void *addr, char *buf, size_t n);

/* Writes src escaped as an alert field value (bytes outside 0x21..0x7e, and
 * '\\', as \\xNN) into dst[0..n-1], NUL-terminated; returns its length.
 * Async-signal-safe. */
IMMUNIX_HIDDEN size_t __immunix_escape(char *dst, size_t n, const char *src);

/* 1 when the process runs in secure-execution mode (setuid, setgid, file
 * capabilities): environment overrides are then ignored. */
IMMUNIX_HIDDEN int __immunix_secure(void);

/* Raises a kind=fortify alert naming the checked function, then halts.
 * ra is the return address into the caller of the check. */
IMMUNIX_HIDDEN __attribute__((noreturn)) void __immunix_fortify_fail(const char *check, const void *ra);

/* The same with another message (e.g. "%n in writable format"). */
IMMUNIX_HIDDEN __attribute__((noreturn)) void __immunix_fortify_fail_msg(const char *check, const void *ra, const char *msg);

#endif
