/* FormatGuard run-time checkers: __immunix_fg_F for every wrapped
 * printf-family function F (docs/contracts.md, formatguard/functions.go).
 *
 * The wrapper headers turn a call F(..., fmt, a1, ..., an) whose format is
 * not a compile-time literal into F(..., __immunix_fg_F(n, fmt), a1, ..., an):
 * the checker runs before F (it computes F's argument), parses fmt, and
 * returns it unchanged when the format reads at most n arguments and does
 * not write through %n. Otherwise an attacker controls the format: it raises
 * a "formatguard" alert and halts the process, before F prints anything.
 *
 * Returning the format, rather than calling a v*printf ourselves, keeps
 * every call going to the function the program asked for, with glibc's
 * _FORTIFY_SOURCE checks, and covers functions that have no va_list form
 * (error, error_at_line, argp_error, argp_failure).
 *
 * The alert path is async-signal-safe: no malloc, no stdio, no locks. */

#include <stddef.h>
#include <wchar.h>

#include "guard.h"
#include "fg_types.h"
#include "fg_register.h"

const struct fg_count_hook *__immunix_fg_count_hook = 0;

#define FG_TYPES 0
#define FG_CHAR char
#define FG_NAME(x) fg_narrow_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

#define FG_CHAR wchar_t
#define FG_NAME(x) fg_wide_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

/* With classes, for calls that pass the classes of their arguments. */
#undef FG_TYPES
#define FG_TYPES 2
#define FG_CHAR char
#define FG_NAME(x) fg_tnarrow_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

#define FG_CHAR wchar_t
#define FG_NAME(x) fg_twide_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

#include "fg_class.h"

#define FG_EXPORT __attribute__((visibility("default")))

/* Decimal of v into buf (room for 21), returns the end. */
static char *fg_utoa(char *p, size_t v)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (i > 0)
		*p++ = tmp[--i];
	return p;
}

static char *fg_cpy(char *p, char *end, const char *s)
{
	while (*s != 0 && p < end)
		*p++ = *s++;
	return p;
}

/* The format, as far as it fits, for the alert's msg: printable ASCII as
 * is, anything else (and wide characters beyond ASCII) as '?'. The alert
 * writer escapes msg itself; this only keeps it short and byte-sized. */
#define FG_SHOW 64

static __attribute__((noinline, cold, noreturn)) void fg_attack(const char *func, unsigned int n, const struct fg_result *r,
		      long bad, const void *addr, const char *narrow, const wchar_t *wide)
{
	size_t passed = n & FG_COUNT_MASK;
	char extra[640], msg[256];
	char *p = extra, *end = extra + 128;
	char *m = msg, *mend = msg + sizeof msg - 1;
	size_t i;

	p = fg_cpy(p, end, " call=");
	p = fg_cpy(p, end, func);
	p = fg_cpy(p, end, " passed=");
	if (end - p > 24)
		p = fg_utoa(p, passed);
	p = fg_cpy(p, end, " demanded=");
	if (end - p > 24)
		p = fg_utoa(p, r->demanded);
	*p = 0;
	/* " obj=... off=0x..." locates the call in the object it lies in. */
	__immunix_locate(addr, p, sizeof extra - (size_t)(p - extra));

	if (r->demanded > passed) {
		m = fg_cpy(m, mend, "format reads more arguments than the call passes: \"");
	} else if (bad >= 0 && !r->has_n) {
		/* "format reads a pointer as argument 2 where the call passes an
		 * integer" */
		unsigned int acc = fg_class_accepts(r->bad_type);
		m = fg_cpy(m, mend, "format reads ");
		m = fg_cpy(m, mend, acc & (1u << FG_CLASS_INT) ? "an integer or a pointer" : fg_class_names[acc & (1u << FG_CLASS_PTR) ? FG_CLASS_PTR : acc & (1u << FG_CLASS_DOUBLE) ? FG_CLASS_DOUBLE : FG_CLASS_LDOUBLE]);
		m = fg_cpy(m, mend, " as argument ");
		if (mend - m > 24)
			m = fg_utoa(m, (size_t)bad + 1);
		m = fg_cpy(m, mend, " where the call passes ");
		m = fg_cpy(m, mend, fg_class_names[fg_class_of(n, (size_t)bad)]);
		m = fg_cpy(m, mend, ": \"");
	} else
		m = fg_cpy(m, mend, "non-literal format writes through %n: \"");
	for (i = 0; i < FG_SHOW && m < mend - 8; i++) {
		unsigned long c = narrow ? (unsigned char)narrow[i] : (unsigned long)wide[i];
		if (c == 0)
			break;
		*m++ = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i == FG_SHOW)
		m = fg_cpy(m, mend, "...");
	m = fg_cpy(m, mend, "\"");
	*m = 0;

	__immunix_alert("formatguard", addr, extra, msg);
	__immunix_halt();
}

/* The last narrow formats that passed on this thread, each with the
 * checker's n (count and classes) it passed with (issue 15: a program
 * prints through the same few formats over and over, and a byte compare
 * costs less than half a parse). The verdict is a function of the format's
 * bytes and n alone, so a format whose bytes, NUL included, equal a
 * record's, checked with the same n, passes without a parse. A record
 * holds the bytes, never only the pointer, so a buffer that passed and is
 * then rewritten ("%x%x%x") is parsed again; the pointer only chooses which
 * of FG_MEMO_SLOTS records to look in, so that a loop over a few formats
 * finds each in its own. Only formats of at most FG_MEMO bytes are kept,
 * and only while no conversion is registered (the hook's count may
 * change); wide formats are always parsed.
 *
 * A signal handler on this thread may print between any two instructions.
 * A record's seq is odd while it is written: a check that finds it odd
 * neither reads nor writes it; a check whose compare saw seq change (a
 * handler wrote the record meanwhile) counts as a miss. seq 0: never
 * written.
 * The signal fences keep the compiler from moving the record's accesses
 * across seq's; other threads never see these records. fmt[FG_MEMO] is
 * never written, so it is always NUL and the compare needs no bound. */
#define FG_MEMO 64
#define FG_MEMO_SLOTS 4
/* Test builds only (formatguard/memo_test.go): FG_MEMO_WINDOW(step, i) runs
 * where a handler may interrupt ('c', i: before comparing byte i; 'w', i:
 * before writing byte i), and FG_MEMO_TEST_UNGUARDED drops the seq checks,
 * to show the attack they stop. */
#ifndef FG_MEMO_WINDOW
#define FG_MEMO_WINDOW(step, i) ((void)0)
#endif
#ifdef FG_MEMO_TEST_UNGUARDED
#define FG_MEMO_GUARDED 0
#else
#define FG_MEMO_GUARDED 1
#endif
/* fmt has room for an 8-byte read at any index up to FG_MEMO (the compare
 * reads the record by words, fg_memo_same). */
struct fg_memo {
	unsigned int seq;
	unsigned int n;
	char fmt[FG_MEMO + 8];
};
static __thread struct fg_memo fg_memo[FG_MEMO_SLOTS];

/* The record fmt is looked for and kept in: a multiplicative hash of the
 * pointer, so that formats a few bytes apart land in different records. */
static inline __attribute__((always_inline)) struct fg_memo *fg_memo_slot(const char *fmt)
{
	struct fg_memo *m = fg_memo;

	/* The records' address, computed once: without this the compiler
	 * computes the TLS address again for every byte compared (for -fPIC
	 * that is a __tls_get_addr call, relaxed by the linker). */
	__asm__("" : "+r"(m));
	return m + (((unsigned long)fmt * 0x9e3779b97f4a7c15ull) >> 62);
}

/* A word of a format, read where its own bytes may end inside it. */
typedef unsigned long long __attribute__((__may_alias__)) fg_word;

/* The mask of w's bytes up to and including its first zero byte in memory
 * (little-endian: the lowest), or 0 when w has none. */
static inline __attribute__((always_inline)) unsigned long long fg_through_nul(unsigned long long w)
{
	unsigned long long z = (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;

	/* z's lowest flag is w's first zero byte (a false flag can only sit
	 * above a true one); z ^ (z - 1) sets every bit up to that flag. */
	return z != 0 ? z ^ (z - 1) : 0;
}

/* 1 when fmt's bytes, NUL included, are rec's (a record's fmt). fmt is read
 * by aligned 8-byte words, the first one from fmt's address rounded down:
 * an aligned word never crosses a page, so the bytes before fmt and after
 * its NUL that a word also holds lie in a page fmt's own bytes are in
 * (strlen's way); they are masked out. rec is read at the same offsets from
 * its start (it has FG_MEMO + 8 bytes); the compare ends at the word holding
 * rec's NUL, at index FG_MEMO at the latest. Little-endian only; elsewhere
 * byte by byte. */
static inline __attribute__((always_inline)) int fg_memo_same(const char *rec, const char *fmt)
{
	size_t i;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t off = (unsigned long)fmt & 7;
	unsigned long long r, f, nul, have = ~0ull >> (8 * off);

	FG_MEMO_WINDOW('c', 0);
	__builtin_memcpy(&r, rec, 8);
	f = *(const fg_word *)(const void *)(fmt - off) >> (8 * off);
	nul = fg_through_nul(r);
	if (nul != 0 && (nul & ~have) == 0)
		return ((r ^ f) & nul) == 0;
	if (((r ^ f) & have) != 0)
		return 0;
	for (i = 8 - off;; i += 8) {
		FG_MEMO_WINDOW('c', i);
		__builtin_memcpy(&r, rec + i, 8);
		f = *(const fg_word *)(const void *)(fmt + i);
		nul = fg_through_nul(r);
		if (nul != 0)
			return ((r ^ f) & nul) == 0;
		if (r != f)
			return 0;
	}
#else
	for (i = 0;; i++) {
		FG_MEMO_WINDOW('c', i);
		if (rec[i] != fmt[i])
			return 0;
		if (fmt[i] == 0)
			return 1;
	}
#endif
}

/* 1 when fmt, checked with n, is the format its record holds. */
static inline __attribute__((always_inline)) int fg_memo_hit(const char *fmt, unsigned int n)
{
	struct fg_memo *m = fg_memo_slot(fmt);
	unsigned int s = __atomic_load_n(&m->seq, __ATOMIC_RELAXED);
	int hit = 0;

	if ((FG_MEMO_GUARDED && (s & 1) != 0) || s == 0)
		return 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (m->n == n)
		hit = fg_memo_same(m->fmt, fmt);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (FG_MEMO_GUARDED && __atomic_load_n(&m->seq, __ATOMIC_RELAXED) != s)
		return 0;
	return hit;
}

/* Records fmt, which passed with n, in its record, unless this check
 * interrupted a write of it (seq odd). Every miss writes: keeping the
 * record for the format that hits more was tried and cost more CPU time
 * than it saved where two formats take turns in one buffer (the compare's
 * branches stop being predictable; BENCHMARKS.md). */
static void fg_memo_keep(const char *fmt, unsigned int n)
{
	struct fg_memo *m = fg_memo_slot(fmt);
	unsigned int seq = __atomic_load_n(&m->seq, __ATOMIC_RELAXED);
	size_t i;

	if ((seq & 1) != 0)
		return;
	__atomic_store_n(&m->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	m->n = n;
	for (i = 0; i < FG_MEMO; i++) {
		FG_MEMO_WINDOW('w', i);
		if ((m->fmt[i] = fmt[i]) == 0)
			break;
	}
	/* Too long: m holds "", a true verdict for every n (it reads
	 * nothing), rather than a prefix the parse never judged. seq is never
	 * set back, so a check whose compare a handler interrupted cannot see
	 * its old value again (but after 2^31 writes). */
	if (i == FG_MEMO && fmt[i] != 0)
		m->fmt[0] = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&m->seq, seq + 2 == 0 ? 2 : seq + 2, __ATOMIC_RELAXED);
}

/* The parse, for a format the record did not hold. */
static __attribute__((noinline)) const char *fg_check_parse(const char *func, unsigned int n, const char *fmt,
							    const void *addr)
{
	const struct fg_count_hook *hook = __atomic_load_n(&__immunix_fg_count_hook, __ATOMIC_ACQUIRE);
	struct fg_result r;
	long bad = -1;

	if (n >> FG_CLASS_SHIFT != 0 && __builtin_expect(hook == 0, 1)) {
		/* The call passed its arguments' classes: compare while parsing. */
		r.types = 0;
		r.ntypes = 0;
		r.classes = n;
		r.bad = -1;
		fg_tnarrow_parse(fmt, &r);
		bad = r.bad;
	} else {
		r.types = 0;
		r.ntypes = 0;
		fg_narrow_parse(fmt, &r);
		if (__builtin_expect(hook != 0, 0))
			r.demanded = hook->narrow(fmt); /* registered conversions: glibc's count */
	}
	if (__builtin_expect(r.demanded > (n & FG_COUNT_MASK) || r.has_n || bad >= 0, 0))
		fg_attack(func, n, &r, bad, addr, fmt, 0);
	if (__builtin_expect(hook == 0, 1))
		fg_memo_keep(fmt, n);
	return fmt;
}

/* Returns fmt when the call may go ahead; the wrappers tail-call it. A NULL
 * format passes through: err(3) and friends accept it, and for the others
 * the real function decides what NULL means. Inlined in each checker, so
 * that a remembered format costs the compare and no call. */
static inline __attribute__((always_inline)) const char *fg_check(const char *func, unsigned int n,
								  const char *fmt, const void *addr)
{
	if (fmt == 0)
		return fmt;
	if (__builtin_expect(__atomic_load_n(&__immunix_fg_count_hook, __ATOMIC_ACQUIRE) == 0, 1) &&
	    fg_memo_hit(fmt, n))
		return fmt;
	return fg_check_parse(func, n, fmt, addr);
}

static __attribute__((noinline)) const wchar_t *fg_wcheck(const char *func, unsigned int n,
							  const wchar_t *fmt, const void *addr)
{
	struct fg_result r;
	const struct fg_count_hook *hook;

	long bad = -1;

	if (fmt == 0)
		return fmt;
	hook = __atomic_load_n(&__immunix_fg_count_hook, __ATOMIC_ACQUIRE);
	if (n >> FG_CLASS_SHIFT != 0 && __builtin_expect(hook == 0, 1)) {
		r.types = 0;
		r.ntypes = 0;
		r.classes = n;
		r.bad = -1;
		fg_twide_parse(fmt, &r);
		bad = r.bad;
	} else {
		r.types = 0;
		r.ntypes = 0;
		fg_wide_parse(fmt, &r);
		if (__builtin_expect(hook != 0, 0)) {
			size_t c;
			if (hook->wide(fmt, &c))
				r.demanded = c;
		}
	}
	if (__builtin_expect(r.demanded > (n & FG_COUNT_MASK) || r.has_n || bad >= 0, 0))
		fg_attack(func, n, &r, bad, addr, 0, fmt);
	return fmt;
}

#define FG_NARROW(F)                                                          \
	FG_EXPORT const char *__immunix_fg_##F(unsigned int n, const char *fmt); \
	FG_EXPORT const char *__immunix_fg_##F(unsigned int n, const char *fmt)  \
	{                                                                     \
		return fg_check(#F, n, fmt, __builtin_return_address(0));     \
	}

#define FG_WIDE(F)                                                            \
	FG_EXPORT const wchar_t *__immunix_fg_##F(unsigned int n,              \
						  const wchar_t *fmt);        \
	FG_EXPORT const wchar_t *__immunix_fg_##F(unsigned int n,              \
						  const wchar_t *fmt)         \
	{                                                                     \
		return fg_wcheck(#F, n, fmt, __builtin_return_address(0));    \
	}

/* The list matches formatguard/functions.go (a Go test checks it). */
FG_NARROW(printf)
FG_NARROW(fprintf)
FG_NARROW(dprintf)
FG_NARROW(sprintf)
FG_NARROW(snprintf)
FG_NARROW(asprintf)
FG_NARROW(obstack_printf)
FG_NARROW(syslog)
FG_WIDE(wprintf)
FG_WIDE(fwprintf)
FG_WIDE(swprintf)
FG_NARROW(err)
FG_NARROW(errx)
FG_NARROW(warn)
FG_NARROW(warnx)
FG_NARROW(error)
FG_NARROW(error_at_line)
FG_NARROW(argp_error)
FG_NARROW(argp_failure)

/* Helpers (issue 15 item 1, docs/formatguard.md "The program's own printf
 * helpers"). immunix-cc rewrites a call of the program's own printf-like
 * function (a helper) whose format is not a literal so that it saves this
 * thread's slot, stores (format, count | classes) in it, calls the helper
 * and restores the slot when the call's scope ends (cleanup attribute). A
 * v*printf call in a unit that defines a helper goes through
 * __immunix_fg_vF(fmt) first: when fmt is the very pointer the slot holds,
 * it is checked like a direct call of F with that count; any other format
 * passes unchecked, as before. The slot is restored after every helper call,
 * so a helper that prints nothing leaves nothing behind; a longjmp out of a
 * helper leaves the slot set, and only a v*printf of that same format
 * pointer would read it. Per thread: no locks. */
static __thread const void *fg_hslot_fmt;
static __thread unsigned int fg_hslot_n;

FG_EXPORT void __immunix_fg_hsave(void **h);
FG_EXPORT void __immunix_fg_hsave(void **h)
{
	h[0] = (void *)fg_hslot_fmt;
	h[1] = (void *)(unsigned long)fg_hslot_n;
}

FG_EXPORT void __immunix_fg_hrestore(void *(*h)[2]);
FG_EXPORT void __immunix_fg_hrestore(void *(*h)[2])
{
	fg_hslot_fmt = (*h)[0];
	fg_hslot_n = (unsigned int)(unsigned long)(*h)[1];
}

FG_EXPORT const char *__immunix_fg_hset(unsigned int n, const char *fmt);
FG_EXPORT const char *__immunix_fg_hset(unsigned int n, const char *fmt)
{
	fg_hslot_fmt = fmt;
	fg_hslot_n = n;
	return fmt;
}

FG_EXPORT const wchar_t *__immunix_fg_hwset(unsigned int n, const wchar_t *fmt);
FG_EXPORT const wchar_t *__immunix_fg_hwset(unsigned int n, const wchar_t *fmt)
{
	fg_hslot_fmt = fmt;
	fg_hslot_n = n;
	return fmt;
}

#define FG_VNARROW(F)                                                          \
	FG_EXPORT const char *__immunix_fg_##F(const char *fmt);              \
	FG_EXPORT const char *__immunix_fg_##F(const char *fmt)               \
	{                                                                     \
		if (fmt != 0 && fmt == fg_hslot_fmt)                          \
			return fg_check(#F, fg_hslot_n, fmt, __builtin_return_address(0)); \
		return fmt;                                                   \
	}

#define FG_VWIDE(F)                                                            \
	FG_EXPORT const wchar_t *__immunix_fg_##F(const wchar_t *fmt);         \
	FG_EXPORT const wchar_t *__immunix_fg_##F(const wchar_t *fmt)          \
	{                                                                     \
		if (fmt != 0 && (const void *)fmt == fg_hslot_fmt)            \
			return fg_wcheck(#F, fg_hslot_n, fmt, __builtin_return_address(0)); \
		return fmt;                                                   \
	}

/* The va_list forms of formatguard/functions.go. */
FG_VNARROW(vprintf)
FG_VNARROW(vfprintf)
FG_VNARROW(vdprintf)
FG_VNARROW(vsprintf)
FG_VNARROW(vsnprintf)
FG_VNARROW(vasprintf)
FG_VNARROW(obstack_vprintf)
FG_VNARROW(vsyslog)
FG_VWIDE(vwprintf)
FG_VWIDE(vfwprintf)
FG_VWIDE(vswprintf)
FG_VNARROW(verr)
FG_VNARROW(verrx)
FG_VNARROW(vwarn)
FG_VNARROW(vwarnx)
