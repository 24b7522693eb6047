/* immunix guard runtime: the one alert writer every immunix alert goes through.
 *
 * Format and transport: docs/contracts.md, "The alert format".
 * Everything here is async-signal-safe: no malloc, no stdio, no locks, and
 * nothing read from the (possibly smashed) caller's stack beyond the
 * arguments themselves. Callers pass only static strings or buffers of their
 * own.
 */
#ifndef IMMUNIX_ALERT_H
#define IMMUNIX_ALERT_H

#define IMMUNIX_HIDDEN __attribute__((visibility("hidden")))

/* Writes one alert: "immunix alert: kind=KIND exe=... pid=... uid=...
 * [addr=0x...] [EXTRA] msg=MSG" to syslog (authpriv.alert), stderr, and
 * /dev/kmsg when syslog is unreachable.
 *   kind:  "stackguard", "fortify", "formatguard", ...
 *   addr:  code address the alert is about (0: omitted)
 *   extra: NULL, or further " key=value" fields, already escaped
 *   msg:   free text, last field */
IMMUNIX_HIDDEN void __immunix_alert(const char *kind, const void *addr,
                                    const char *extra, const char *msg);

/* Halts the process: SIGABRT with the default action, no handlers, no atexit,
 * no stdio flush. Never returns. */
IMMUNIX_HIDDEN __attribute__((noreturn)) void __immunix_halt(void);
/* The first part of __immunix_halt: SIGABRT at its default action, sent to
 * this thread. Returns only if the kernel refused the signal, so that a
 * caller can end the process its own way before __immunix_halt's
 * exit_group. */
IMMUNIX_HIDDEN void __immunix_halt_signal(void);

#endif
