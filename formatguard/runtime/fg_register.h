/* FormatGuard: how the checkers count formats in a program that registered
 * its own printf conversions (fg_register.c). */
#ifndef IMMUNIX_FG_REGISTER_H
#define IMMUNIX_FG_REGISTER_H

#include <stddef.h>
#include <wchar.h>

struct fg_count_hook {
	/* the arguments a narrow format reads, by glibc's rules */
	size_t (*narrow)(const char *fmt);
	/* the same for a wide format: 1 and *count, or 0 when it cannot */
	int (*wide)(const wchar_t *fmt, size_t *count);
};

/* Null until the program registers a conversion or a modifier; defined in
 * formatguard.c so that a program that registers nothing never links
 * fg_register.c. */
extern const struct fg_count_hook *__immunix_fg_count_hook __attribute__((visibility("hidden")));

#endif
