/* FormatGuard: the class of each argument a call passes, and which
 * classes a conversion may read (issue 15, "types, not only counts").
 *
 * The wrapper headers pass a checker "n" = count | classes << FG_CLASS_SHIFT:
 * the count of arguments after the format in the low 7 bits, then 3 bits
 * per argument for the first FG_CLASS_ARGS arguments, computed by the
 * compiler at the call (C: _Generic and __builtin_classify_type; C++11: a
 * type trait over the argument pack). Objects built with FormatGuard 1
 * headers pass classes 0: "unknown", which every conversion may read.
 *
 * What a conversion may read is decided by what it does with the argument,
 * not by the letter of the standard, so that no valid program (and no
 * common sloppy one) is stopped:
 * - %s, %S (and %n, which the checkers refuse anyway) dereference it: a
 *   pointer only. An integer there is a wild read.
 * - %d %x %c %p and the '*' of a width or precision print a word: an
 *   integer or a pointer (same registers, no memory is read; "%lx" of a
 *   pointer is common).
 * - %f %e %g %a read a double from the floating-point registers; %Lf & co.
 *   a long double from the stack (16 bytes): each only its own class.
 *   "%La %La" with two ints read 32 bytes of the caller's stack.
 * Nothing here allocates or calls libc (alert path). */
#ifndef IMMUNIX_FG_CLASS_H
#define IMMUNIX_FG_CLASS_H

#include "fg_types.h"

#define FG_CLASS_ANY 0     /* unknown: a struct, a complex, an old object */
#define FG_CLASS_INT 1     /* an integer, char, enum or bool */
#define FG_CLASS_PTR 2     /* a pointer (or an array or function, decayed) */
#define FG_CLASS_DOUBLE 3  /* float or double */
#define FG_CLASS_LDOUBLE 4 /* long double */
#define FG_CLASS_SHIFT 7
#define FG_CLASS_BITS 3
#define FG_CLASS_ARGS 8
#define FG_COUNT_MASK 0x7fu

static const char *const fg_class_names[8] = {
	"unknown", "an integer", "a pointer", "a double", "a long double", "?", "?", "?",
};

/* The class a conversion of glibc type pa needs, as a bit set of classes. */
static inline unsigned int fg_class_accepts(int pa)
{
	int base = pa & 0xff;

	if (pa & FG_PA_FLAG_PTR)
		return 1u << FG_CLASS_PTR;
	switch (base) {
	case FG_PA_STRING:
	case FG_PA_WSTRING:
		return 1u << FG_CLASS_PTR;
	case FG_PA_DOUBLE:
	case FG_PA_FLOAT:
		return (pa & FG_PA_FLAG_LONG_DOUBLE) ? 1u << FG_CLASS_LDOUBLE : 1u << FG_CLASS_DOUBLE;
	default: /* int, char, wchar, pointer (%p) */
		return (1u << FG_CLASS_INT) | (1u << FG_CLASS_PTR);
	}
}

/* The class the call passed for argument i (0-based), or FG_CLASS_ANY. */
static inline unsigned int fg_class_of(unsigned int n, size_t i)
{
	if (i >= FG_CLASS_ARGS)
		return FG_CLASS_ANY;
	return (n >> (FG_CLASS_SHIFT + FG_CLASS_BITS * i)) & ((1u << FG_CLASS_BITS) - 1);
}

#endif
