/* FormatGuard and the conversions a program registers with glibc
 * (register_printf_specifier, register_printf_function,
 * register_printf_modifier in <printf.h>).
 *
 * A registered conversion takes as many arguments as its arginfo function
 * says, and a registered modifier changes how a conversion is read: the
 * runtime's own parser knows neither ("%W" would count as no argument, so
 * "%W%W%W" with one argument would leak two stack words). This member of
 * the archive defines the three registration functions, so a program that
 * calls them links against these: each notes that the program registered
 * something, then registers it with glibc. From then on the checkers count
 * every narrow format as glibc does, with glibc's own parse_printf_format,
 * which asks the registered arginfo functions; a wide format is copied to
 * a narrow one, character by character, for the same count (a wide format
 * of 1024 characters or more keeps the runtime's own count: a documented
 * gap). A program that never registers anything never links this member,
 * and pays nothing but one load of fg_count_hook per check.
 *
 * The real functions: dlsym(RTLD_NEXT) in a dynamically linked program
 * (glibc exports them only under these names, which we now define), glibc's
 * internal __register_* in a static one, where they are global in libc.a. */
#define _GNU_SOURCE 1
#include <stdlib.h>

#ifdef __GLIBC__
#include <dlfcn.h>
#include <printf.h>
#include <wchar.h>

#include "fg_register.h"

#define FG_EXPORT __attribute__((visibility("default")))

extern int __register_printf_specifier(int, printf_function *, printf_arginfo_size_function *) __attribute__((weak));
extern int __register_printf_function(int, printf_function *, printf_arginfo_function *) __attribute__((weak));
extern int __register_printf_modifier(const wchar_t *) __attribute__((weak));

static size_t fg_glibc_count(const char *fmt)
{
	return parse_printf_format(fmt, 0, 0);
}

#define FG_WIDE_MAX 1024

static int fg_glibc_wcount(const wchar_t *fmt, size_t *count)
{
	char buf[FG_WIDE_MAX];
	size_t i;

	for (i = 0; fmt[i] != 0; i++) {
		if (i == FG_WIDE_MAX - 1)
			return 0;
		/* glibc's wide printf looks up a registered conversion only for
		 * characters up to UCHAR_MAX; others are no conversion it knows. */
		buf[i] = (unsigned long)fmt[i] <= 0xff ? (char)(unsigned char)fmt[i] : '\x7f';
	}
	buf[i] = 0;
	*count = parse_printf_format(buf, 0, 0);
	return 1;
}

static const struct fg_count_hook fg_glibc_hook = { fg_glibc_count, fg_glibc_wcount };

static void fg_note_registered(void)
{
	__atomic_store_n(&__immunix_fg_count_hook, &fg_glibc_hook, __ATOMIC_RELEASE);
}

static void *fg_next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

FG_EXPORT int register_printf_specifier(int spec, printf_function *conv, printf_arginfo_size_function *arginfo)
{
	int (*real)(int, printf_function *, printf_arginfo_size_function *);

	fg_note_registered();
	*(void **)&real = fg_next("register_printf_specifier");
	if (real == 0)
		real = __register_printf_specifier;
	return real != 0 ? real(spec, conv, arginfo) : -1;
}

FG_EXPORT int register_printf_function(int spec, printf_function *conv, printf_arginfo_function *arginfo)
{
	int (*real)(int, printf_function *, printf_arginfo_function *);

	fg_note_registered();
	*(void **)&real = fg_next("register_printf_function");
	if (real == 0)
		real = __register_printf_function;
	return real != 0 ? real(spec, conv, arginfo) : -1;
}

FG_EXPORT int register_printf_modifier(const wchar_t *str)
{
	int (*real)(const wchar_t *);

	fg_note_registered();
	*(void **)&real = fg_next("register_printf_modifier");
	if (real == 0)
		real = __register_printf_modifier;
	return real != 0 ? real(str) : -1;
}
#else
/* Not glibc: no registration functions, nothing to do. */
typedef int fg_register_unused;
#endif
