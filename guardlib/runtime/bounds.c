/* BoundsGuard: the intruder alert for an array index out of bounds.
 *
 * immunix-cc compiles with the compilers' array-bounds instrumentation
 * (gcc: -fsanitize=bounds, clang: -fsanitize=array-bounds) in its
 * non-recovering form (-fno-sanitize-recover=...). Before every indexed
 * access it cannot prove in range, the compiled code compares the index with
 * the array's declared length and, when it is out of range, calls
 * __ubsan_handle_out_of_bounds_abort(data, index) instead of doing the
 * access: the faulty write never lands. gcc 12 and clang 14 emit the same
 * name and the same data layout (compiler-rt's ubsan_handlers.h,
 * OutOfBoundsData; gcc's ubsan.cc builds the same records).
 *
 * These definitions, linked from libimmunix-guard.a, raise one kind=bounds
 * alert and halt; libubsan is never needed. They are hidden: each linked
 * object resolves its own calls to its own copy, and a libubsan that some
 * other library of the process brings (the user's own -fsanitize=undefined)
 * is neither replaced nor replacing. Only the non-recovering names are
 * defined: the recovering ones (__ubsan_handle_out_of_bounds...) are what a
 * user's own -fsanitize=undefined calls by default, and must reach the
 * user's libubsan, not an archive member pulled in ahead of it.
 *
 * The alert carries what the compiler recorded: the array type (type=), the
 * index value (index=, decimal, signed or not as the index type says), the
 * source position (src=FILE:LINE), plus the address of the check (the
 * return address of the handler call minus one) and its object and offset
 * (obj=, off=) as for StackGuard. The records live in the program's data,
 * which a stack overflow does not reach; still, every string read from them
 * is length-bounded and escaped. */
#include <stddef.h>
#include <stdint.h>

#include "guard.h"

struct ubsan_type {
	uint16_t kind; /* 0: integer, 1: float, 0xffff: unknown */
	uint16_t info; /* integer: bit 0 signed, width = 1 << (info >> 1) */
	char name[];
};

struct ubsan_loc {
	const char *file;
	uint32_t line;
	uint32_t column;
};

struct ubsan_oob {
	struct ubsan_loc loc;
	const struct ubsan_type *array;
	const struct ubsan_type *index;
};

IMMUNIX_HIDDEN __attribute__((noreturn)) void __ubsan_handle_out_of_bounds_abort(struct ubsan_oob *d, uintptr_t index);

/* clang's -fsanitize=object-size (the opt-in "objsize" protection) reports
 * through the type-mismatch handler; immunix enables no other check that
 * uses it, so a call means an access past the end of the object the
 * compiler could size. */
struct ubsan_type_mismatch {
	struct ubsan_loc loc;
	const struct ubsan_type *type;
	unsigned char log_align;
	unsigned char check_kind;
};

IMMUNIX_HIDDEN __attribute__((noreturn)) void __ubsan_handle_type_mismatch_v1_abort(struct ubsan_type_mismatch *d, uintptr_t ptr);

/* Appends s (at most max bytes of it) escaped as a single token. */
static void tok(char *dst, size_t *pos, size_t n, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t p = *pos;
	for (size_t i = 0; i < max && s[i] && p + 5 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '\\') {
			dst[p++] = (char)c;
		} else {
			dst[p++] = '\\';
			dst[p++] = 'x';
			dst[p++] = hex[c >> 4];
			dst[p++] = hex[c & 15];
		}
	}
	dst[p] = 0;
	*pos = p;
}

static void str(char *dst, size_t *pos, size_t n, const char *s)
{
	size_t p = *pos;
	while (*s && p + 1 < n)
		dst[p++] = *s++;
	dst[p] = 0;
	*pos = p;
}

static void dec(char *dst, size_t *pos, size_t n, uint64_t v, int neg)
{
	char t[24];
	size_t k = sizeof t;
	t[--k] = 0;
	do {
		t[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		t[--k] = '-';
	str(dst, pos, n, t + k);
}

/* The index as the handler received it: inline for an integer type of at most
 * pointer width, else a pointer to the value (only its low 64 bits are
 * shown). */
static void put_index(char *dst, size_t *pos, size_t n, const struct ubsan_type *t, uintptr_t v)
{
	if (!t || t->kind != 0) {
		str(dst, pos, n, "?");
		return;
	}
	unsigned width = 1u << (t->info >> 1);
	int sign = t->info & 1;
	/* Inline when it fits in a pointer-sized value (so 64-bit indexes are
	 * passed by address on 32-bit targets). */
	uint64_t x = width <= sizeof(uintptr_t) * 8 ? (uint64_t)v : (v ? *(const uint64_t *)v : 0);
	if (width < 64) {
		uint64_t mask = (UINT64_C(1) << width) - 1;
		x &= mask;
		if (sign && (x >> (width - 1)))
			x |= ~mask; /* sign-extend */
	}
	if (sign && (int64_t)x < 0)
		dec(dst, pos, n, (uint64_t)0 - x, 1);
	else
		dec(dst, pos, n, x, 0);
}

static void put_src(char *dst, size_t *pos, size_t n, const struct ubsan_loc *l)
{
	if (!l->file)
		return;
	str(dst, pos, n, " src=");
	tok(dst, pos, n, l->file, 120);
	str(dst, pos, n, ":");
	dec(dst, pos, n, l->line, 0);
}

/* obj= off= of the check, as for StackGuard; returns the length. */
static size_t locate(const void *a, char *dst)
{
	size_t p = 0;
	__immunix_locate(a, dst, 600);
	while (dst[p])
		p++;
	return p;
}

static __attribute__((noinline, noreturn)) void out_of_bounds(const struct ubsan_oob *d, uintptr_t index, const void *ra)
{
	char extra[900];
	const void *a = (const char *)ra - 1;
	size_t p = locate(a, extra);
	if (d) {
		if (d->array) {
			str(extra, &p, sizeof extra, " type=");
			tok(extra, &p, sizeof extra, d->array->name, 80);
		}
		str(extra, &p, sizeof extra, " index=");
		put_index(extra, &p, sizeof extra, d->index, index);
		put_src(extra, &p, sizeof extra, &d->loc);
	}
	__immunix_alert("bounds", a, extra, "array index out of bounds");
	__immunix_halt();
}

static __attribute__((noinline, noreturn)) void past_object(const struct ubsan_type_mismatch *d, uintptr_t ptr, const void *ra)
{
	char extra[900];
	const void *a = (const char *)ra - 1;
	size_t p = locate(a, extra);
	if (d) {
		if (d->type) {
			str(extra, &p, sizeof extra, " type=");
			tok(extra, &p, sizeof extra, d->type->name, 80);
		}
		put_src(extra, &p, sizeof extra, &d->loc);
	}
	str(extra, &p, sizeof extra, " ptr=0x");
	char hx[17];
	int k = 16;
	hx[k] = 0;
	do {
		hx[--k] = "0123456789abcdef"[ptr & 15];
		ptr >>= 4;
	} while (ptr && k > 0);
	str(extra, &p, sizeof extra, hx + k);
	__immunix_alert("bounds", a, extra, "access past the end of the object");
	__immunix_halt();
}

void __ubsan_handle_out_of_bounds_abort(struct ubsan_oob *d, uintptr_t index)
{
	out_of_bounds(d, index, __builtin_return_address(0));
}

void __ubsan_handle_type_mismatch_v1_abort(struct ubsan_type_mismatch *d, uintptr_t ptr)
{
	past_object(d, ptr, __builtin_return_address(0));
}
