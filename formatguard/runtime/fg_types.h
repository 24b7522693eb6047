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

struct fg_result {
	size_t demanded; /* arguments the format reads */
	size_t max_ref;  /* highest n in n$ or *n$ */
	int has_n;       /* the format writes through %n */
	int *types;      /* optional: argument types, or 0 */
	size_t ntypes;   /* room in types */
};

#endif
