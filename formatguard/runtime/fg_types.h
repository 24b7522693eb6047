/* FormatGuard: the result of parsing a format (see fg_parse.h). */
#ifndef IMMUNIX_FG_TYPES_H
#define IMMUNIX_FG_TYPES_H

#include <stddef.h>

/* Argument types, numbered as glibc's <printf.h> PA_* so that the
 * differential fuzzing can compare them one to one. */
enum {
	FG_PA_INT,
	FG_PA_CHAR,
	FG_PA_WCHAR,
	FG_PA_STRING,
	FG_PA_WSTRING,
	FG_PA_POINTER,
	FG_PA_FLOAT,
	FG_PA_DOUBLE
};
#define FG_PA_FLAG_LONG_LONG (1 << 8)
#define FG_PA_FLAG_LONG_DOUBLE FG_PA_FLAG_LONG_LONG
#define FG_PA_FLAG_LONG (1 << 9)
#define FG_PA_FLAG_SHORT (1 << 10)
#define FG_PA_FLAG_PTR (1 << 11)

#define FG_PTRDIFF __PTRDIFF_TYPE__
#define FG_INTMAX __INTMAX_TYPE__

/* fg_simple[c] classifies a conversion letter c that directly follows '%':
 * 0 = not simple (parse it fully), PA type + 1 = takes one argument of that
 * type, FG_SIMPLE_NONE = takes none (%%, %m), FG_SIMPLE_N = %n. */
#define FG_SIMPLE_NONE (-1)
#define FG_SIMPLE_N (-2)
static const signed char fg_simple[128] = {
	['d'] = FG_PA_INT + 1, ['i'] = FG_PA_INT + 1, ['u'] = FG_PA_INT + 1,
	['o'] = FG_PA_INT + 1, ['x'] = FG_PA_INT + 1, ['X'] = FG_PA_INT + 1,
	['b'] = FG_PA_INT + 1, ['B'] = FG_PA_INT + 1,
	['e'] = FG_PA_DOUBLE + 1, ['E'] = FG_PA_DOUBLE + 1,
	['f'] = FG_PA_DOUBLE + 1, ['F'] = FG_PA_DOUBLE + 1,
	['g'] = FG_PA_DOUBLE + 1, ['G'] = FG_PA_DOUBLE + 1,
	['a'] = FG_PA_DOUBLE + 1, ['A'] = FG_PA_DOUBLE + 1,
	['c'] = FG_PA_CHAR + 1, ['C'] = FG_PA_WCHAR + 1,
	['s'] = FG_PA_STRING + 1, ['S'] = FG_PA_WSTRING + 1,
	['p'] = FG_PA_POINTER + 1,
	['n'] = FG_SIMPLE_N,
	['%'] = FG_SIMPLE_NONE, ['m'] = FG_SIMPLE_NONE,
};

struct fg_result {
	size_t demanded; /* arguments the format reads */
	size_t max_ref;  /* highest n in n$ or *n$ */
	int has_n;       /* the format writes through %n */
	int *types;      /* optional: argument types, or 0 */
	size_t ntypes;   /* room in types */
	/* FG_TYPES 2 (fg_class.h): the checker's n, count and classes, in;
	 * the first argument read as a class the call did not pass (-1:
	 * none) and the type it was read as, out. */
	unsigned int classes;
	long bad;
	int bad_type;
};

#endif
