// Package headergen writes FormatGuard's wrapper headers (formatguard/include)
// from one table, so that every wrapped function gets the same macro
// machinery and the headers cannot drift from formatguard.Functions.
//
// Example:
//
//	for name, text := range headergen.Files(127) {
//		os.WriteFile(filepath.Join("include", name), []byte(text), 0o644)
//	}
//
// The formatguard package's golden test regenerates them with -update.
package headergen

import (
	"fmt"
	"sort"
	"strings"
)

// VaListCheck is one v*printf function whose calls in a printf helper's
// body the helper pass checks (formatguard/runtime/formatguard.c
// FG_VNARROW, FG_VWIDE).
type VaListCheck struct {
	Name string
	Wide bool
}

// VaListCheckers are the va_list functions of formatguard.Functions (the
// formatguard package's tests keep the two lists equal), declared for C++
// units, whose rewritten helper code calls their checkers by name.
var VaListCheckers = []VaListCheck{
	{"vprintf", false}, {"vfprintf", false}, {"vdprintf", false}, {"vsprintf", false},
	{"vsnprintf", false}, {"vasprintf", false}, {"obstack_vprintf", false}, {"vsyslog", false},
	{"vwprintf", true}, {"vfwprintf", true}, {"vswprintf", true},
	{"verr", false}, {"verrx", false}, {"vwarn", false}, {"vwarnx", false},
}

// Capacity is the number of variadic arguments (after the format) a call
// may have and still be counted. Beyond it the call does not compile with
// FormatGuard, and immunix-cc compiles the unit again without it.
const Capacity = 127

// classArgs is how many leading arguments of a call carry their class to
// the checker (3 bits each above the 7-bit count in its unsigned int;
// formatguard/runtime/fg_class.h FG_CLASS_ARGS).
const classArgs = 8

// fn is one wrapped function as the headers see it.
type fn struct {
	name string
	// index of the format argument (0-based)
	index int
	wide  bool
	// glibc feature condition under which glibc declares it ("" = always),
	// and the condition for other C libraries (musl).
	glibcCond, otherCond string
	// chk is the replacement glibc's <bits/*2.h> uses when it defines the
	// function as a macro (compilers without __builtin_va_arg_pack, i.e.
	// clang, with _FORTIFY_SOURCE, in C): a macro body over the parameter
	// list chkParams, or "" when glibc never makes it a macro.
	chkParams, chk string
}

// group is one wrapped libc header and the functions it declares.
type group struct {
	file   string // wrapper file name, e.g. "stdio.h"
	fns    []fn
	guard  string // our include guard
	cxx    string // the C++ header that #undefs these names, or ""
	header string // fragment with the macro definitions
}

const fortifyLevel = "__USE_FORTIFY_LEVEL - 1"

var stdioFns = []fn{
	{name: "printf", index: 0, chkParams: "...", chk: "__printf_chk (" + fortifyLevel + ", __VA_ARGS__)"},
	{name: "fprintf", index: 1, chkParams: "__s, ...", chk: "__fprintf_chk (__s, " + fortifyLevel + ", __VA_ARGS__)"},
	{name: "sprintf", index: 1, chkParams: "__s, ...", chk: "__builtin___sprintf_chk (__s, " + fortifyLevel + ", __glibc_objsize (__s), __VA_ARGS__)"},
	{name: "snprintf", index: 2, glibcCond: "defined __USE_ISOC99 || defined __USE_UNIX98",
		otherCond: "!defined __STRICT_ANSI__ || (defined __STDC_VERSION__ && __STDC_VERSION__ >= 199901L) || defined __cplusplus",
		chkParams: "__s, __n, ...", chk: "__builtin___snprintf_chk (__s, __n, " + fortifyLevel + ", __glibc_objsize (__s), __VA_ARGS__)"},
	{name: "dprintf", index: 1, glibcCond: "defined __USE_XOPEN2K8",
		otherCond: "defined _GNU_SOURCE || defined _BSD_SOURCE || defined _POSIX_SOURCE || defined _POSIX_C_SOURCE || defined _XOPEN_SOURCE",
		chkParams: "__d, ...", chk: "__dprintf_chk (__d, " + fortifyLevel + ", __VA_ARGS__)"},
	{name: "asprintf", index: 1, glibcCond: "defined __USE_GNU", otherCond: "defined _GNU_SOURCE || defined _BSD_SOURCE",
		chkParams: "__p, ...", chk: "__asprintf_chk (__p, " + fortifyLevel + ", __VA_ARGS__)"},
	{name: "obstack_printf", index: 1, glibcCond: "defined __USE_GNU", otherCond: "0",
		chkParams: "__o, ...", chk: "__obstack_printf_chk (__o, " + fortifyLevel + ", __VA_ARGS__)"},
}

var wcharFns = []fn{
	{name: "wprintf", index: 0, wide: true, glibcCond: "defined __USE_ISOC95 || defined __USE_UNIX98",
		chkParams: "...", chk: "__wprintf_chk (" + fortifyLevel + ", __VA_ARGS__)"},
	{name: "fwprintf", index: 1, wide: true, glibcCond: "defined __USE_ISOC95 || defined __USE_UNIX98",
		chkParams: "__s, ...", chk: "__fwprintf_chk (__s, " + fortifyLevel + ", __VA_ARGS__)"},
	{name: "swprintf", index: 2, wide: true, glibcCond: "defined __USE_ISOC95 || defined __USE_UNIX98",
		chkParams: "__s, __n, ...",
		chk: "(__glibc_objsize (__s) != (size_t) -1 || __USE_FORTIFY_LEVEL > 1 \\\n" +
			"   ? __swprintf_chk (__s, __n, " + fortifyLevel + ", __glibc_objsize (__s) / sizeof (wchar_t), __VA_ARGS__) \\\n" +
			"   : swprintf (__s, __n, __VA_ARGS__))"},
}

var groups = []group{
	{file: "stdio.h", guard: "__IMMUNIX_FG_STDIO_H", cxx: "cstdio", header: "immunix-fg-stdio.h", fns: stdioFns},
	{file: "wchar.h", guard: "__IMMUNIX_FG_WCHAR_H", cxx: "cwchar", header: "immunix-fg-wchar.h", fns: wcharFns},
	{file: "sys/syslog.h", guard: "__IMMUNIX_FG_SYSLOG_H", header: "immunix-fg-syslog.h", fns: []fn{
		{name: "syslog", index: 1, chkParams: "__p, ...", chk: "__syslog_chk (__p, " + fortifyLevel + ", __VA_ARGS__)"},
	}},
	{file: "syslog.h", guard: "__IMMUNIX_FG_SYSLOG_H2", header: "immunix-fg-syslog.h"},
	{file: "err.h", guard: "__IMMUNIX_FG_ERR_H", header: "immunix-fg-err.h", fns: []fn{
		{name: "err", index: 1}, {name: "errx", index: 1}, {name: "warn", index: 0}, {name: "warnx", index: 0},
	}},
	{file: "error.h", guard: "__IMMUNIX_FG_ERROR_H", header: "immunix-fg-error.h", fns: []fn{
		{name: "error", index: 2}, {name: "error_at_line", index: 4},
	}},
	{file: "argp.h", guard: "__IMMUNIX_FG_ARGP_H", header: "immunix-fg-argp.h", fns: []fn{
		{name: "argp_error", index: 1}, {name: "argp_failure", index: 3},
	}},
}

// Wrapped lists the wrapped functions the headers define macros for, with
// the index of their format argument and whether it is wide; the
// formatguard tests compare it with formatguard.Functions.
func Wrapped() map[string][2]int {
	out := map[string][2]int{}
	for _, g := range groups {
		for _, f := range g.fns {
			w := 0
			if f.wide {
				w = 1
			}
			out[f.name] = [2]int{f.index, w}
		}
	}
	return out
}

// Files returns every file of formatguard/include, by path relative to it,
// for calls of up to capacity variadic arguments.
func Files(capacity int) map[string]string {
	files := map[string]string{"immunix-formatguard.h": helper(capacity)}
	for _, g := range groups {
		files[g.file] = wrapper(g)
		if g.fns != nil {
			files[g.header] = fragment(g)
		}
		if g.cxx != "" {
			files[g.cxx] = cxxWrapper(g)
		}
	}
	return files
}

// Names returns the file names Files produces, sorted.
func Names() []string {
	var names []string
	for n := range Files(1) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const generated = "/* Generated by formatguard/internal/headergen; do not edit. */\n"

func helper(capacity int) string {
	var b strings.Builder
	b.WriteString(generated)
	b.WriteString(`/* FormatGuard: the macro machinery the wrapper headers share, and the one
 * place where compilers differ.
 *
 * A wrapped call F(..., fmt, a1, ..., an) becomes
 *
 *     F(..., (__builtin_constant_p(fmt) ? fmt : __immunix_fg_F(n, fmt)), a1, ..., an)
 *
 * - n is counted by the preprocessor: the arguments, already macro-expanded,
 *   select the n-th entry of a table of Capacity+1 tokens. A call with more
 *   arguments selects one of the caller's own tokens, and pasting it to our
 *   prefix fails to compile (never a wrong count): immunix-cc then compiles
 *   the unit again without FormatGuard and says so. Top-level commas inside
 *   braces or template arguments make n larger than the real count, never
 *   smaller, so they can cost protection but never raise a false alert.
 * - A string literal format is a constant: the conditional folds in the
 *   front end (gcc and clang both fold __builtin_constant_p of a string
 *   literal at once, and only of a literal: any pointer variable is 0), the
 *   call is exactly the user's call, -Wformat checks it once, and
 *   optimisations such as printf("x\n") -> puts("x") still happen.
 * - Otherwise the checker parses fmt before F runs and returns it; F itself
 *   is the function the program asked for (glibc's _FORTIFY_SOURCE inline
 *   included). fmt and the arguments are evaluated exactly once:
 *   __builtin_constant_p does not evaluate its operand.
 * - The checker has format_arg(2): -Wformat and -Wformat-security see the
 *   user's format through it, so no new warning appears. The literal arm
 *   is not parenthesised: its location stays the user's own token.
 * - gcc does not report warnings located in a macro defined in a system
 *   header, and the call and the conditional come from our macros: every
 *   -Wformat warning about the user's call would vanish (and with it
 *   -Werror=format-security). So for gcc the macro definitions sit after a
 *   line marker without the system-header flag (the declarations and C++
 *   helpers above it stay system code). gcc then reports them at the
 *   macro, with "in expansion of macro" pointing at the user's line; clang
 *   needs none of this: it already reports them at the user's line.
 *
 * The macros are function-like, so only "F(" is replaced: (F)(...), &F, a
 * pointer named F, or a struct field F not followed by "(" are untouched.
 * Only standard C99 preprocessing is used (no ##__VA_ARGS__, no __VA_OPT__),
 * and every variadic macro here receives at least one variadic argument.
 * Variadic macros are a C99 feature; gcc and clang accept them in C89 and
 * C++98 too, without a word in system headers, and a diagnostic pragma
 * silences -Wvariadic-macros where gcc reads them as user code. */
#ifndef __IMMUNIX_FORMATGUARD_H
#define __IMMUNIX_FORMATGUARD_H

/* Activation: gcc and clang (and compilers claiming to be gcc) only, not for
 * assembly, and not when the user opts out with -DIMMUNIX_NO_FORMATGUARD. */
#if defined __GNUC__ && !defined __ASSEMBLER__ && !defined IMMUNIX_NO_FORMATGUARD
# define __IMMUNIX_FG_ACTIVE 1
#else
# define __IMMUNIX_FG_ACTIVE 0
#endif

#if __IMMUNIX_FG_ACTIVE

/* glibc's <bits/stdio2.h>, <bits/wchar2.h> and <bits/syslog.h> define
 * printf & co. as macros calling the __*_chk functions when _FORTIFY_SOURCE
 * is on but the compiler lacks __builtin_va_arg_pack (clang), in C only.
 * Our macros then replace glibc's and call the same __*_chk function, so
 * FORTIFY keeps working. The other compiler difference is gcc's line
 * marker, above. */
#if defined __GLIBC__ && defined __USE_FORTIFY_LEVEL && !defined __va_arg_pack && !defined __cplusplus
# if __USE_FORTIFY_LEVEL > 0
#  define __IMMUNIX_FG_GLIBC_FORTIFY_MACROS 1
# endif
#endif
#ifndef __IMMUNIX_FG_GLIBC_FORTIFY_MACROS
# define __IMMUNIX_FG_GLIBC_FORTIFY_MACROS 0
#endif

/* Which C library decides what a header declares. */
#ifdef __GLIBC__
# define __IMMUNIX_FG_GLIBC 1
#else
# define __IMMUNIX_FG_GLIBC 0
#endif

`)
	b.WriteString(`
/* The run-time checkers (formatguard/runtime/formatguard.c). Narrow ones
 * here; the wide ones in immunix-fg-wchar.h, where wchar_t is known. */
#ifdef __cplusplus
extern "C" {
#endif
`)
	for _, g := range groups {
		for _, f := range g.fns {
			if !f.wide {
				fmt.Fprintf(&b, "extern const char *__immunix_fg_%s (unsigned int, const char *)\n  __attribute__ ((__nothrow__, __format_arg__ (2)));\n", f.name)
			}
		}
	}
	b.WriteString(`#ifdef __cplusplus
}
/* C++: a call "obj.printf(x, ...)" of a member function is rewritten too.
 * When x is not a (const) char pointer it cannot be a printf format: these
 * overloads hand it back unchanged, so such calls still compile. A char *
 * format takes the non-template overload and is checked. An object of a
 * class that converts implicitly to const char * (operator const char *)
 * is a format too: printf would convert it, so its conversion is checked
 * (__immunix_fg_conv picks the checking overload only when the implicit
 * conversion exists; void *, integers and other classes are not
 * converted). The object is handed back as before, and printf converts it
 * again: an operator that returns another string the second time is not
 * covered. */
extern "C++" {
template <int> struct __immunix_fg_if { typedef int __type; };
template <class __T> struct __immunix_fg_ref { static __T &__v (); };
char __immunix_fg_is (const char *);
char __immunix_fg_isw (const wchar_t *);
`)
	b.WriteString(`#if __cplusplus >= 201103L
/* The count of a call's arguments and their classes, as the compiler sees
 * them (formatguard/runtime/fg_class.h): count | classes << 7, 3 bits per
 * argument for the first 8. A pack expansion "a..." counts as its real size
 * (an empty one as 0), and a top-level comma inside template arguments no
 * longer splits an argument. sizeof does not evaluate the arguments. A
 * pack of more than 127 counts as 127, without classes. */
template <class __T> struct __immunix_fg_tc { enum { __v = __is_enum (__T) ? 1 : 0 }; };
template <class __T> struct __immunix_fg_tc<__T *> { enum { __v = 2 }; };
template <class __T, __SIZE_TYPE__ __N> struct __immunix_fg_tc<__T[__N]> { enum { __v = 2 }; };
template <> struct __immunix_fg_tc<float> { enum { __v = 3 }; };
template <> struct __immunix_fg_tc<double> { enum { __v = 3 }; };
template <> struct __immunix_fg_tc<long double> { enum { __v = 4 }; };
`)
	for _, t := range []string{"bool", "char", "signed char", "unsigned char", "wchar_t", "char16_t", "char32_t", "short", "unsigned short", "int", "unsigned int", "long", "unsigned long", "long long", "unsigned long long"} {
		fmt.Fprintf(&b, "template <> struct __immunix_fg_tc<%s> { enum { __v = 1 }; };\n", t)
	}
	b.WriteString(`#ifdef __cpp_char8_t
template <> struct __immunix_fg_tc<char8_t> { enum { __v = 1 }; };
#endif
template <class... __T> struct __immunix_fg_tl;
template <> struct __immunix_fg_tl<> { static const unsigned long __v = 0; };
template <class __H, class... __R> struct __immunix_fg_tl<__H, __R...>
  { static const unsigned long __v = static_cast<unsigned long> (__immunix_fg_tc<__H>::__v) | (__immunix_fg_tl<__R...>::__v << 3); };
template <class... __T> char (&__immunix_fg_cnt (const __T &...))
  [(sizeof... (__T) > 127 ? 127 : (sizeof... (__T) | ((__immunix_fg_tl<__T...>::__v & 0xffffffUL) << 7))) + 1];
#endif
`)
	for _, g := range groups {
		for _, f := range g.fns {
			if !f.wide {
				fmt.Fprintf(&b, "inline const char *__immunix_fg_%[1]s (unsigned int __n, char *__f)\n  { return __immunix_fg_%[1]s (__n, (const char *) __f); }\n", f.name)
				fmt.Fprintf(&b, "template <class __T> inline void __immunix_fg_conv_%[1]s (unsigned int __n, __T &__x, int,\n  typename __immunix_fg_if<sizeof (__immunix_fg_is (__immunix_fg_ref<__T>::__v ()))>::__type = 0)\n  { const char *__f = __x; (void) __immunix_fg_%[1]s (__n, __f); }\n", f.name)
				fmt.Fprintf(&b, "template <class __T> inline void __immunix_fg_conv_%s (unsigned int, __T &, long) {}\n", f.name)
				fmt.Fprintf(&b, "template <class __T> inline __T __immunix_fg_%[1]s (unsigned int __n, __T __x)\n  { __immunix_fg_conv_%[1]s (__n, __x, 0); return __x; }\n", f.name)
			}
		}
	}
	b.WriteString(`/* The printf helper pass (formatguard/helpers) passes a C++ helper call's
 * format through __immunix_fg_hpass: a (const) char pointer is stored in
 * the thread's slot with the call's count and classes; anything else (the
 * call was of an overload whose argument is not a format) is handed back
 * unchanged, so the rewritten call still compiles. */
extern "C" void __immunix_fg_hsave (void **) __attribute__ ((__nothrow__));
extern "C" void __immunix_fg_hrestore (void *(*)[2]) __attribute__ ((__nothrow__));
extern "C" const char *__immunix_fg_hset (unsigned int, const char *)
  __attribute__ ((__nothrow__, __format_arg__ (2)));
extern "C" const wchar_t *__immunix_fg_hwset (unsigned int, const wchar_t *)
  __attribute__ ((__nothrow__));
inline const char *__immunix_fg_hpass (unsigned int __n, const char *__f)
  { return __immunix_fg_hset (__n, __f); }
inline char *__immunix_fg_hpass (unsigned int __n, char *__f)
  { return const_cast<char *> (__immunix_fg_hset (__n, __f)); }
template <class __T> inline __T __immunix_fg_hpass (unsigned int, __T __x) { return __x; }
inline const wchar_t *__immunix_fg_hwpass (unsigned int __n, const wchar_t *__f)
  { return __immunix_fg_hwset (__n, __f); }
inline wchar_t *__immunix_fg_hwpass (unsigned int __n, wchar_t *__f)
  { return const_cast<wchar_t *> (__immunix_fg_hwset (__n, __f)); }
template <class __T> inline __T __immunix_fg_hwpass (unsigned int, __T __x) { return __x; }
/* The checkers of the v*printf calls in a helper's body. */
`)
	for _, v := range VaListCheckers {
		ch := "char"
		if v.Wide {
			ch = "wchar_t"
		}
		fmt.Fprintf(&b, "extern \"C\" const %[1]s *__immunix_fg_%[2]s (const %[1]s *) __attribute__ ((__nothrow__));\n", ch, v.Name)
	}
	b.WriteString("}\n#endif\n")
	nonSystem(&b, "immunix-formatguard.h")
	b.WriteString(`#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvariadic-macros"
#define __IMMUNIX_FG_CAT(a, b) __IMMUNIX_FG_CAT_(a, b)
#define __IMMUNIX_FG_CAT_(a, b) a##b
#define __IMMUNIX_FG_APPLY(m, ...) m(__VA_ARGS__)

/* __IMMUNIX_FG_An(F, args): args with the format at index n rewritten. */
#define __IMMUNIX_FG_A0(F, ...) __IMMUNIX_FG_S(F, __IMMUNIX_FG_SEL(__VA_ARGS__), __VA_ARGS__)
#define __IMMUNIX_FG_A1(F, a, ...) a, __IMMUNIX_FG_A0(F, __VA_ARGS__)
#define __IMMUNIX_FG_A2(F, a, ...) a, __IMMUNIX_FG_A1(F, __VA_ARGS__)
#define __IMMUNIX_FG_A3(F, a, ...) a, __IMMUNIX_FG_A2(F, __VA_ARGS__)
#define __IMMUNIX_FG_A4(F, a, ...) a, __IMMUNIX_FG_A3(F, __VA_ARGS__)

#define __IMMUNIX_FG_S(F, k, ...) __IMMUNIX_FG_S_(F, k, __VA_ARGS__)
#define __IMMUNIX_FG_S_(F, k, ...) \
  __IMMUNIX_FG_CAT(__IMMUNIX_FG_R, __IMMUNIX_FG_MORE_##k)(F, __IMMUNIX_FG_COUNT_##k, __IMMUNIX_FG_TY_##k, __VA_ARGS__)
#define __IMMUNIX_FG_R0(F, n, T, fmt) __IMMUNIX_FG_FMT(F, n, fmt)
#define __IMMUNIX_FG_R1(F, n, T, fmt, ...) __IMMUNIX_FG_FMT(F, __IMMUNIX_FG_N(n, T, __VA_ARGS__), fmt), __VA_ARGS__
/* __IMMUNIX_FG_N(n, T, args): the checker's first argument, the count n of
 * args and, above bit 7, the classes of the first 8 (fg_class.h). */
#if defined __cplusplus
/* C++: the overloads above decide by type; C++11 counts packs and
 * classifies by type traits (above); C++98 passes the count only. */
# if __cplusplus >= 201103L
#  define __IMMUNIX_FG_N(n, T, ...) static_cast<unsigned int> (sizeof (__immunix_fg_cnt (__VA_ARGS__)) - 1)
# else
#  define __IMMUNIX_FG_N(n, T, ...) n
# endif
# define __IMMUNIX_FG_FMT(F, n, fmt) \
  (__builtin_constant_p(fmt) ? fmt : __immunix_fg_##F(n, fmt))
#else
/* C: only a format of the function's string type (char * or const char *,
 * wchar_t * for the wide ones) is checked. Anything else is the first
 * argument of a struct field named like the function ("o.printf(ptr, 3)",
 * "s->fprintf(ctx, n)") and is handed on unchanged, with its own type: no
 * new warning, no false alert. Every association must be valid for every
 * type (the compilers check the ones not chosen too), hence the inner
 * _Generic that gives a string-typed operand whatever fmt is. A string
 * literal has type char[N], i.e. char *, and folds as before. */
# ifdef IMMUNIX_FG_NO_TYPES
/* -DIMMUNIX_FG_NO_TYPES: count only (for a unit whose printf arguments
 * include a compound literal with a top-level comma, below). */
#  define __IMMUNIX_FG_N(n, T, ...) n
# else
#  define __IMMUNIX_FG_N(n, T, ...) (n | T(__VA_ARGS__))
# endif
/* The class of one argument: _Generic for the floating types (a bit-field
 * is fine there, where sizeof is not), __builtin_classify_type for the rest
 * (1-4 integer, char, enum, bool; 5 pointer, also a decayed array or
 * function); anything else (struct, complex, _Float128) 0, unknown. Neither
 * evaluates its operand. A compound literal with a top-level comma
 * ("(struct p){1, 2}") is split by the preprocessor, which can neither
 * rejoin it nor tell its pieces from arguments (a brace is no token it can
 * test), and does not compile: immunix-cc compiles the unit again with
 * -DIMMUNIX_FG_NO_TYPES (counts only, fg=counts), and only if that fails
 * too without FormatGuard (fg=retried). */
# define __IMMUNIX_FG_CL(a) ((unsigned int) __extension__ _Generic((a), long double: 4, double: 3, float: 3, \
     default: __IMMUNIX_FG_CLK(__builtin_classify_type(a))))
# define __IMMUNIX_FG_CLK(c) ((c) >= 1 && (c) <= 4 ? 1 : (c) == 5 ? 2 : 0)
# define __IMMUNIX_FG_FMT(F, n, fmt) __IMMUNIX_FG_FMT_(F, n, fmt, __IMMUNIX_FG_CT_##F)
# define __IMMUNIX_FG_FMT_(F, n, fmt, C) __IMMUNIX_FG_FMT__(F, n, fmt, C)
# define __IMMUNIX_FG_FMT__(F, n, fmt, C) \
  (__extension__ _Generic((fmt), C *: __IMMUNIX_FG_CHK(F, n, fmt, C), \
     const C *: __IMMUNIX_FG_CHK(F, n, fmt, C), default: fmt))
# define __IMMUNIX_FG_CHK(F, n, fmt, C) \
  (__builtin_constant_p(fmt) ? __IMMUNIX_FG_STR(fmt, C) : __immunix_fg_##F(n, __IMMUNIX_FG_STR(fmt, C)))
# define __IMMUNIX_FG_STR(fmt, C) \
  __extension__ _Generic((fmt), C *: fmt, const C *: fmt, default: (const C *) 0)
#endif

/* __IMMUNIX_FG_SEL(fmt, a1, ..., an) -> __immunix_fg_kN with N = n. */
`)
	b.WriteString("#define __IMMUNIX_FG_SEL(...) __IMMUNIX_FG_SEL_(__VA_ARGS__")
	for i := capacity; i >= 0; i-- {
		if (capacity-i)%8 == 0 {
			b.WriteString(", \\\n ")
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " __immunix_fg_k%d", i)
	}
	b.WriteString(", ~)\n#define __IMMUNIX_FG_SEL_(")
	for i := 0; i <= capacity; i++ {
		if i%16 == 0 && i > 0 {
			b.WriteString(" \\\n ")
		}
		fmt.Fprintf(&b, "_%d, ", i)
	}
	b.WriteString("__k, ...) __k\n")
	for i := 0; i <= capacity; i++ {
		more := 1
		if i == 0 {
			more = 0
		}
		ty := i
		if ty > classArgs {
			ty = classArgs + 1
		}
		fmt.Fprintf(&b, "#define __IMMUNIX_FG_COUNT___immunix_fg_k%d %du\n#define __IMMUNIX_FG_MORE___immunix_fg_k%d %d\n#define __IMMUNIX_FG_TY___immunix_fg_k%d __IMMUNIX_FG_T%d\n", i, i, i, more, i, ty)
	}
	// __IMMUNIX_FG_Tj(a1, ..., aj): the classes of j arguments; T9 takes
	// the first 8 of more.
	b.WriteString("#ifndef __cplusplus\n#define __IMMUNIX_FG_T0() 0u\n")
	for j := 1; j <= classArgs+1; j++ {
		var params, body []string
		for i := 1; i <= j && i <= classArgs; i++ {
			params = append(params, fmt.Sprintf("a%d", i))
			body = append(body, fmt.Sprintf("__IMMUNIX_FG_CL(a%d) << %d", i, 7+3*(i-1)))
		}
		if j > classArgs {
			params = append(params, "...")
		}
		fmt.Fprintf(&b, "#define __IMMUNIX_FG_T%d(%s) \\\n  (%s)\n", j, strings.Join(params, ", "), strings.Join(body, " | "))
	}
	b.WriteString("#endif\n")
	for _, g := range groups {
		for _, f := range g.fns {
			ct := "char"
			if f.wide {
				ct = "wchar_t"
			}
			fmt.Fprintf(&b, "#define __IMMUNIX_FG_CT_%s %s\n", f.name, ct)
		}
	}
	b.WriteString(`#pragma GCC diagnostic pop

#endif /* __IMMUNIX_FG_ACTIVE */
#endif /* __IMMUNIX_FORMATGUARD_H */
`)
	return b.String()
}

// nonSystem writes, for gcc only, a line marker that keeps the file name and
// line numbers but drops the system-header flag, so that warnings about the
// user's calls, which gcc locates in our macros, are not suppressed (see
// the helper header's comment).
func nonSystem(b *strings.Builder, name string) {
	b.WriteString("\n/* gcc: what follows is not system-header code, see immunix-formatguard.h.\n" +
		" * Not for C++98 before gcc 13, whose C++ front end ignores the diagnostic\n" +
		" * pragma below for preprocessor warnings (gcc PR 53431): -pedantic would\n" +
		" * reject our variadic macros there. */\n" +
		"#if defined __GNUC__ && !defined __clang__ && (!defined __cplusplus || __cplusplus >= 201103L || __GNUC__ >= 13)\n")
	line := strings.Count(b.String(), "\n") + 2
	fmt.Fprintf(b, "# %d \"%s\"\n#endif\n", line, name)
}

func wrapper(g group) string {
	var b strings.Builder
	b.WriteString(generated)
	fmt.Fprintf(&b, `/* FormatGuard wrapper for <%[1]s>: the real header first, unchanged, then
 * the counting macros for the printf-family functions it declares.
 *
 * #include_next keeps the include order and the feature-test macros exactly
 * as without immunix: the real header is read at the same point, with the
 * same macros in force, and decides what is declared; we then define a
 * macro only for a function it declared (the same feature conditions) and
 * only when nobody else made that name a macro first. Nothing else is
 * included.
 *
 * Read again (included twice, or found a second time through another
 * directory of these wrappers further on the include path: immunix-cc's own
 * on a compiler whose specs already add the zero-process mode's), it passes
 * on to the next <%[1]s>, which is the real header or another wrapper,
 * so the real header is always read (its own guard makes a second read
 * empty). */
#ifndef %[2]s
#define %[2]s
#include_next <%[1]s>
#include "%[3]s"
#else
#include_next <%[1]s>
#endif
`, g.file, g.guard, g.header)
	return b.String()
}

func cxxWrapper(g group) string {
	var b strings.Builder
	b.WriteString(generated)
	fmt.Fprintf(&b, `/* FormatGuard wrapper for C++ <%[1]s>.
 *
 * libstdc++'s <%[1]s> #undefs printf & co. (C++ forbids library functions
 * that are macros), which would leave std::printf unprotected. After it, the
 * macros are defined again: "std::printf(fmt, x)" becomes
 * "std::printf(checked fmt, x)" and still calls std::printf. */
#include_next <%[1]s>
#include "%[2]s"
`, g.cxx, g.header)
	return b.String()
}

func fragment(g group) string {
	var b strings.Builder
	b.WriteString(generated)
	fmt.Fprintf(&b, `/* FormatGuard macros for <%s>. Included after the real header by the
 * wrappers; safe to include again (after libstdc++ #undefs the names). */
#include "immunix-formatguard.h"
#if __IMMUNIX_FG_ACTIVE
`, g.file)
	if g.fns[0].wide {
		b.WriteString(`
#ifndef __IMMUNIX_FG_WIDE_DECLS
#define __IMMUNIX_FG_WIDE_DECLS
# ifdef __cplusplus
extern "C" {
# endif
`)
		for _, f := range g.fns {
			fmt.Fprintf(&b, "extern const wchar_t *__immunix_fg_%s (unsigned int, const wchar_t *) __attribute__ ((__nothrow__));\n", f.name)
		}
		b.WriteString(`# ifdef __cplusplus
}
extern "C++" {
`)
		for _, f := range g.fns {
			fmt.Fprintf(&b, "inline const wchar_t *__immunix_fg_%[1]s (unsigned int __n, wchar_t *__f)\n  { return __immunix_fg_%[1]s (__n, (const wchar_t *) __f); }\n", f.name)
			fmt.Fprintf(&b, "template <class __T> inline void __immunix_fg_conv_%[1]s (unsigned int __n, __T &__x, int,\n  typename __immunix_fg_if<sizeof (__immunix_fg_isw (__immunix_fg_ref<__T>::__v ()))>::__type = 0)\n  { const wchar_t *__f = __x; (void) __immunix_fg_%[1]s (__n, __f); }\n", f.name)
			fmt.Fprintf(&b, "template <class __T> inline void __immunix_fg_conv_%s (unsigned int, __T &, long) {}\n", f.name)
			fmt.Fprintf(&b, "template <class __T> inline __T __immunix_fg_%[1]s (unsigned int __n, __T __x)\n  { __immunix_fg_conv_%[1]s (__n, __x, 0); return __x; }\n", f.name)
		}
		b.WriteString("}\n# endif\n#endif\n")
	}
	nonSystem(&b, g.header)
	b.WriteString("#pragma GCC diagnostic push\n#pragma GCC diagnostic ignored \"-Wvariadic-macros\"\n")
	for _, f := range g.fns {
		cond := "1"
		if f.glibcCond != "" || f.otherCond != "" {
			gc, oc := f.glibcCond, f.otherCond
			if gc == "" {
				gc = "1"
			}
			if oc == "" {
				oc = "1"
			}
			cond = fmt.Sprintf("(__IMMUNIX_FG_GLIBC && (%s)) || (!__IMMUNIX_FG_GLIBC && (%s))", gc, oc)
		}
		args := fmt.Sprintf("__IMMUNIX_FG_A%d(%s, __VA_ARGS__)", f.index, f.name)
		fmt.Fprintf(&b, "\n/* %s: format is argument %d. */\n#if %s\n", f.name, f.index+1, cond)
		fmt.Fprintf(&b, "# if !defined %[1]s\n#  define %[1]s(...) %[1]s(%[2]s)\n#  define __IMMUNIX_FG_ON_%[1]s 1\n", f.name, args)
		if f.chk != "" {
			fmt.Fprintf(&b, "# elif __IMMUNIX_FG_GLIBC_FORTIFY_MACROS && !defined __IMMUNIX_FG_ON_%[1]s\n", f.name)
			fmt.Fprintf(&b, "#  undef %[1]s\n#  define __IMMUNIX_FG_CHK_%[1]s(%[2]s) \\\n  %[3]s\n", f.name, f.chkParams, f.chk)
			fmt.Fprintf(&b, "#  define %[1]s(...) __IMMUNIX_FG_APPLY(__IMMUNIX_FG_CHK_%[1]s, %[2]s)\n#  define __IMMUNIX_FG_ON_%[1]s 1\n", f.name, args)
		}
		b.WriteString("# endif\n#endif\n")
	}
	b.WriteString("#pragma GCC diagnostic pop\n\n#endif /* __IMMUNIX_FG_ACTIVE */\n")
	return b.String()
}
