/* FormatGuard: the printf format grammar, written once for char and wchar_t.
 *
 * This file is a template: define FG_CHAR (the character type), FG_NAME(x)
 * (a name mangler) and FG_TYPES (1 to record argument types in
 * fg_result.types, 2 to compare them with the classes the call passed in
 * fg_result.classes (fg_class.h), 0 neither) and include it; formatguard.c includes it
 * twice, for narrow and wide formats, without types, and the differential
 * fuzzing bridge (formatguard/internal/cfmt) includes it with types to
 * compare it with glibc.
 *
 * Why our own parser: the guard runtime must work on glibc and musl alike,
 * and glibc's parse_printf_format exists only on glibc (and only narrow).
 * The rules below follow the C standard's grammar plus the GNU extensions,
 * with the exact counting rules of glibc's parse_printf_format, which the
 * fuzzing keeps us honest about:
 *   %[n$][flags][width|*|*m$][.prec|.*|.*m$][length]conv
 *   flags: ' ' + - # 0 ' I    length: hh h l ll L q j z Z t
 * - every conversion but %% and %m (and unknown letters) takes one argument;
 * - '*' takes one argument, '*m$' names argument m;
 * - demanded = max(arguments taken in sequence, highest m or n named);
 * - a number too large for int in "n$" is not positional (glibc's read_int
 *   returns -1 and the spec then takes the next argument in sequence).
 * Nothing here allocates, locks or calls libc: it is used on the alert path
 * and must be async-signal-safe. */

#if !defined FG_CHAR || !defined FG_TYPES
#error "define FG_CHAR, FG_NAME and FG_TYPES before including fg_parse.h"
#endif

#include "fg_types.h"
#if FG_TYPES == 2
#include "fg_class.h"
#endif

static int FG_NAME(isdigit)(FG_CHAR c)
{
	return (unsigned int)(c - (FG_CHAR)'0') < 10;
}

/* Reads a decimal number at *pp (which is a digit) and leaves *pp after it;
 * -1 when it does not fit in an int. */
static int FG_NAME(read_int)(const FG_CHAR **pp)
{
	const FG_CHAR *p = *pp;
	int v = (int)(*p - (FG_CHAR)'0');

	while (FG_NAME(isdigit)(*++p)) {
		if (v >= 0) {
			int d = (int)(*p - (FG_CHAR)'0');
			if (v > 214748364 || (v == 214748364 && d > 7))
				v = -1;
			else
				v = v * 10 + d;
		}
	}
	*pp = p;
	return v;
}

static inline void FG_NAME(settype)(struct fg_result *r, size_t idx, int type)
{
#if FG_TYPES == 2
	/* Compare with the class the call passed, at once (no table). */
	if (idx < FG_CLASS_ARGS) {
		unsigned int c = fg_class_of(r->classes, idx);
		if (c != FG_CLASS_ANY && !(fg_class_accepts(type) & (1u << c)) && r->bad < 0) {
			r->bad = (long)idx;
			r->bad_type = type;
		}
	}
#elif FG_TYPES
	if (r->types != 0 && idx < r->ntypes)
		r->types[idx] = type;
#else
	(void)r;
	(void)idx;
	(void)type;
#endif
}

/* The length modifier at f (hh h l ll L q j z Z t, or none): sets the
 * flags as glibc's parser does and returns the position after it. */
static inline const FG_CHAR *FG_NAME(length)(const FG_CHAR *f, int *is_long, int *is_long_double,
					       int *is_short, int *is_char)
{
	switch (*f++) {
	case 'h':
		if (*f != (FG_CHAR)'h') {
			*is_short = 1;
		} else {
			++f;
			*is_char = 1;
		}
		break;
	case 'l':
		*is_long = 1;
		if (*f != (FG_CHAR)'l')
			break;
		++f;
		*is_long_double = 1;
		break;
	case 'L':
	case 'q':
		*is_long_double = 1;
		break;
	case 'z':
	case 'Z':
		*is_long = sizeof(size_t) > sizeof(unsigned int);
		*is_long_double = sizeof(size_t) > sizeof(unsigned long);
		break;
	case 't':
		*is_long = sizeof(FG_PTRDIFF) > sizeof(int);
		*is_long_double = sizeof(FG_PTRDIFF) > sizeof(long);
		break;
	case 'j':
		*is_long = sizeof(FG_INTMAX) > sizeof(unsigned int);
		*is_long_double = sizeof(FG_INTMAX) > sizeof(unsigned long);
		break;
	default:
		--f;
		break;
	}
	return f;
}

/* The PA type of conversion conv with those length flags, or -1 when it
 * takes no argument (%m, %%, the end of the string, unknown letters). */
static inline int FG_NAME(type_of)(FG_CHAR conv, int is_long, int is_long_double, int is_short, int is_char)
{
	switch (conv) {
	case 'i': case 'd': case 'u': case 'o': case 'X': case 'x':
	case 'b': case 'B':
		if (is_long_double && sizeof(long) != sizeof(long long))
			return FG_PA_INT | FG_PA_FLAG_LONG_LONG;
		if (is_long)
			return FG_PA_INT | FG_PA_FLAG_LONG;
		if (is_short)
			return FG_PA_INT | FG_PA_FLAG_SHORT;
		if (is_char)
			return FG_PA_CHAR;
		return FG_PA_INT;
	case 'e': case 'E': case 'f': case 'F':
	case 'g': case 'G': case 'a': case 'A':
		return is_long_double ? (FG_PA_DOUBLE | FG_PA_FLAG_LONG_DOUBLE) : FG_PA_DOUBLE;
	case 'c':
		return FG_PA_CHAR;
	case 'C':
		return FG_PA_WCHAR;
	case 's':
		return FG_PA_STRING;
	case 'S':
		return FG_PA_WSTRING;
	case 'p':
		return FG_PA_POINTER;
	case 'n':
		return FG_PA_INT | FG_PA_FLAG_PTR;
	default:
		return -1;
	}
}

/* Parses one conversion starting at the '%' at f; returns the position
 * after it. *posn is the next sequential argument index. */
static const FG_CHAR *FG_NAME(parse_one)(const FG_CHAR *f, size_t *posn,
					   struct fg_result *r)
{
	long data_arg = -1;
	int is_long = 0, is_long_double = 0, is_short = 0, is_char = 0;
	int type = 0, takes = 1;
	FG_CHAR conv;

	++f; /* '%' */

	if (FG_NAME(isdigit)(*f)) {
		const FG_CHAR *begin = f;
		int n = FG_NAME(read_int)(&f);
		if (n != 0 && *f == (FG_CHAR)'$') {
			++f;
			if (n != -1) {
				data_arg = (long)n - 1;
				if ((size_t)n > r->max_ref)
					r->max_ref = (size_t)n;
			}
		} else {
			f = begin; /* it was the width (or the 0 flag) */
		}
	}

	/* Flags. */
	for (;;) {
		FG_CHAR c = *f;
		if (c == ' ' || c == '+' || c == '-' || c == '#' || c == '0' ||
		    c == '\'' || c == 'I') {
			if (*++f == 0)
				break;
			continue;
		}
		break;
	}

	/* Width. */
	if (*f == (FG_CHAR)'*') {
		const FG_CHAR *begin = ++f;
		long width_arg = -1;
		if (FG_NAME(isdigit)(*f)) {
			int n = FG_NAME(read_int)(&f);
			if (n != 0 && *f == (FG_CHAR)'$') {
				if (n != -1) {
					width_arg = (long)n - 1;
					if ((size_t)n > r->max_ref)
						r->max_ref = (size_t)n;
				}
				++f;
			}
		}
		if (width_arg < 0) {
			FG_NAME(settype)(r, *posn, FG_PA_INT);
			++*posn;
			f = begin;
		} else {
			FG_NAME(settype)(r, (size_t)width_arg, FG_PA_INT);
		}
	} else if (FG_NAME(isdigit)(*f)) {
		(void)FG_NAME(read_int)(&f);
	}

	/* Precision. */
	if (*f == (FG_CHAR)'.') {
		++f;
		if (*f == (FG_CHAR)'*') {
			const FG_CHAR *begin = ++f;
			long prec_arg = -1;
			if (FG_NAME(isdigit)(*f)) {
				int n = FG_NAME(read_int)(&f);
				if (n != 0 && *f == (FG_CHAR)'$') {
					if (n != -1) {
						prec_arg = (long)n - 1;
						if ((size_t)n > r->max_ref)
							r->max_ref = (size_t)n;
					}
					++f;
				}
			}
			if (prec_arg < 0) {
				FG_NAME(settype)(r, *posn, FG_PA_INT);
				++*posn;
				f = begin;
			} else {
				FG_NAME(settype)(r, (size_t)prec_arg, FG_PA_INT);
			}
		} else if (FG_NAME(isdigit)(*f)) {
			(void)FG_NAME(read_int)(&f);
		}
	}

	/* Length modifier. */
	f = FG_NAME(length)(f, &is_long, &is_long_double, &is_short, &is_char);

	conv = *f;
	type = FG_NAME(type_of)(conv, is_long, is_long_double, is_short, is_char);
	if (type < 0)
		takes = 0; /* %m, %%, the end of the string, unknown letters */
	else if (conv == (FG_CHAR)'n')
		r->has_n = 1;

	if (takes) {
		if (data_arg == -1) {
			FG_NAME(settype)(r, *posn, type);
			++*posn;
		} else {
			FG_NAME(settype)(r, (size_t)data_arg, type);
		}
	}

	if (conv == 0)
		return f; /* the format ended inside the conversion */
	return f + 1;
}

/* The rest of the format from f (at a '%'), the full grammar; posn
 * arguments have been taken so far. Kept out of line so that the fast loop
 * below stays small. */
static __attribute__((noinline)) void FG_NAME(parse_slow)(const FG_CHAR *f, size_t posn,
							    struct fg_result *r)
{
	for (;;) {
		while (*f != 0 && *f != (FG_CHAR)'%')
			++f;
		if (*f == 0)
			break;
		f = FG_NAME(parse_one)(f, &posn, r);
	}
	r->demanded = posn > r->max_ref ? posn : r->max_ref;
}

/* Parses the whole format: fills r->demanded, r->max_ref and r->has_n (and
 * r->types when FG_TYPES and it is set). */
static inline __attribute__((always_inline)) void FG_NAME(parse)(const FG_CHAR *f, struct fg_result *r)
{
	size_t posn = 0;
	int has_n = 0;

	/* Locals, not r, on the fast path: r escapes only to parse_slow, so
	 * the loop below runs in registers. */
	r->max_ref = 0;
	for (;;) {
		FG_CHAR c;
		int k, ty;
		while (*f != 0 && *f != (FG_CHAR)'%')
			++f;
		if (*f == 0)
			break;
		/* Fast path for the common "%d", "%s", "%%": a conversion letter
		 * right after the '%' (no position, flag, width, precision or
		 * length) means exactly what parse_one would make of it. */
		c = f[1];
		k = (unsigned long)c < 128 ? fg_simple[(unsigned char)c] : 0;
		ty = -1;
		if (k == 0) {
			/* Flags, a width and a precision (digits or a '*' that is
			 * not "*m$") and a length modifier, but no position
			 * ("%-5.2f", "%08lx", "%zu", "%*.*g"): one argument per
			 * '*', and one for the conversion. When recording types,
			 * the conversion's type with its modifiers is type_of's,
			 * as in parse_one. Anything else goes to the full parser.
			 * cfmt fuzzes both builds against glibc. */
			const FG_CHAR *q = f + 1;
			size_t stars = 0;
			int il = 0, ild = 0, is = 0, ic = 0;
			if (FG_NAME(isdigit)(*q)) {
				while (FG_NAME(isdigit)(*q))
					++q;
				/* positional: not here; else it was the width,
				 * read again after the flags as parse_one does */
				q = *q == (FG_CHAR)'$' ? 0 : f + 1;
			}
			if (q != 0) {
				while (*q == ' ' || *q == '+' || *q == '-' || *q == '#' ||
				       *q == '0' || *q == '\'' || *q == 'I')
					++q;
				if (*q == (FG_CHAR)'*') {
					if (FG_NAME(isdigit)(q[1]))
						q = 0;
					else
						++q, ++stars;
				} else {
					while (FG_NAME(isdigit)(*q))
						++q;
				}
			}
			if (q != 0 && *q == (FG_CHAR)'.') {
				++q;
				if (*q == (FG_CHAR)'*') {
					if (FG_NAME(isdigit)(q[1]))
						q = 0;
					else
						++q, ++stars;
				} else {
					while (FG_NAME(isdigit)(*q))
						++q;
				}
			}
			if (q != 0) {
				q = FG_NAME(length)(q, &il, &ild, &is, &ic);
				c = *q;
				k = (unsigned long)c < 128 ? fg_simple[(unsigned char)c] : 0;
				if (k != 0) {
#if FG_TYPES
					size_t i;
					for (i = 0; i < stars; i++)
						FG_NAME(settype)(r, posn + i, FG_PA_INT);
					ty = FG_NAME(type_of)(c, il, ild, is, ic);
#endif
					posn += stars;
					f = q - 1; /* f + 2 below is after the conversion */
				}
			}
		}
		if (k == 0) {
			r->has_n = has_n;
			FG_NAME(parse_slow)(f, posn, r);
			return;
		}
		if (k > 0) {
			FG_NAME(settype)(r, posn, ty >= 0 ? ty : k - 1);
			++posn;
		} else if (k == FG_SIMPLE_N) {
			FG_NAME(settype)(r, posn, FG_PA_INT | FG_PA_FLAG_PTR);
			++posn;
			has_n = 1;
		}
		f += 2;
	}
	r->demanded = posn;
	r->has_n = has_n;
}
