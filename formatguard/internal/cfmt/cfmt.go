// Package cfmt is the cgo bridge the FormatGuard tests use to run the C
// format parser of the guard runtime (formatguard/runtime/fg_parse.h) and,
// on glibc, glibc's own parse_printf_format, on the same format. Test files
// cannot use cgo, so the differential fuzzing in cfmt_test.go goes through
// these two functions.
//
// Example:
//
//	ours := cfmt.Parse("%2$*1$d %n", 8)  // Result{Demanded: 2, HasN: true, Types: ...}
//	glibc := cfmt.Glibc("%2$*1$d %n", 8) // Demanded and Types as glibc sees them
//
// The C sources are compiled with this package, but go's build cache does
// not notice edits to ../../runtime/*.h. ParserHash (parser_hash.go) records
// the hash of the parser files this package was last updated for; the tests
// fail when the files on disk differ, and "go test ./formatguard/internal/cfmt
// -update" rewrites it, which also makes go rebuild the bridge.
package cfmt

/*
#cgo CFLAGS: -I${SRCDIR}/../../runtime -O2 -Wall -Wextra
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <printf.h>
#include "fg_types.h"

#define FG_TYPES 1
#define FG_CHAR char
#define FG_NAME(x) cfmt_narrow_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME
#define FG_CHAR wchar_t
#define FG_NAME(x) cfmt_wide_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

#undef FG_TYPES
#define FG_TYPES 0
#define FG_CHAR char
#define FG_NAME(x) cfmt_count_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME
#define FG_CHAR wchar_t
#define FG_NAME(x) cfmt_wcount_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

static size_t cfmt_count(const char *f, int *has_n)
{
	struct fg_result r;
	r.types = 0;
	r.ntypes = 0;
	cfmt_count_parse(f, &r);
	*has_n = r.has_n;
	return r.demanded;
}

static size_t cfmt_wcount(const wchar_t *f, int *has_n)
{
	struct fg_result r;
	r.types = 0;
	r.ntypes = 0;
	cfmt_wcount_parse(f, &r);
	*has_n = r.has_n;
	return r.demanded;
}

static size_t cfmt_parse(const char *f, int *types, size_t n, int *has_n)
{
	struct fg_result r;
	r.types = types;
	r.ntypes = n;
	cfmt_narrow_parse(f, &r);
	*has_n = r.has_n;
	return r.demanded;
}

static size_t cfmt_wparse(const wchar_t *f, int *types, size_t n, int *has_n)
{
	struct fg_result r;
	r.types = types;
	r.ntypes = n;
	cfmt_wide_parse(f, &r);
	*has_n = r.has_n;
	return r.demanded;
}

static size_t cfmt_glibc(const char *f, int *types, size_t n)
{
	return parse_printf_format(f, n, types);
}

#undef FG_TYPES
#define FG_TYPES 2
#define FG_CHAR char
#define FG_NAME(x) cfmt_class_##x
#include "fg_parse.h"
#undef FG_CHAR
#undef FG_NAME

// The runtime's typed check, built as the checkers build it (FG_TYPES 2:
// the classes compared while parsing): the index of the first argument
// read as a class the call of count arguments (the first FG_CLASS_ARGS
// classes in cls) did not pass, or -1.
static long cfmt_mismatch(const char *f, unsigned int count, const unsigned int *cls, size_t ncls)
{
	struct fg_result r;
	unsigned int n = count;
	size_t i;

	for (i = 0; i < ncls && i < FG_CLASS_ARGS; i++)
		n |= (cls[i] & 7u) << (FG_CLASS_SHIFT + FG_CLASS_BITS * i);
	r.types = 0;
	r.ntypes = 0;
	r.classes = n;
	r.bad = -1;
	cfmt_class_parse(f, &r);
	return r.bad;
}
*/
import "C"

import (
	"unsafe"
)

// Result is what a parser says about one format.
type Result struct {
	Demanded int   // arguments the format reads
	HasN     bool  // the format contains a %n conversion (ours only)
	Types    []int // PA_* type of each argument, -1 where unset, up to the room given
}

func types(n int) ([]C.int, *C.int) {
	if n == 0 {
		return nil, nil
	}
	t := make([]C.int, n)
	for i := range t {
		t[i] = -1
	}
	return t, &t[0]
}

func toInts(t []C.int) []int {
	out := make([]int, len(t))
	for i, v := range t {
		out[i] = int(v)
	}
	return out
}

// cstring is format up to its first NUL, as C sees it.
func cstring(format string) *C.char {
	for i := 0; i < len(format); i++ {
		if format[i] == 0 {
			format = format[:i]
			break
		}
	}
	return C.CString(format)
}

// Parse runs the runtime's narrow parser, recording up to n argument types.
func Parse(format string, n int) Result {
	cs := cstring(format)
	defer C.free(unsafe.Pointer(cs))
	t, p := types(n)
	var hasN C.int
	d := C.cfmt_parse(cs, p, C.size_t(n), &hasN)
	return Result{Demanded: int(d), HasN: hasN != 0, Types: toInts(t)}
}

// ParseWide runs the runtime's wide parser on format's runes (up to the
// first 0), recording up to n argument types.
func ParseWide(format []rune, n int) Result {
	w := make([]C.wchar_t, 0, len(format)+1)
	for _, r := range format {
		if r == 0 {
			break
		}
		w = append(w, C.wchar_t(r))
	}
	w = append(w, 0)
	t, p := types(n)
	var hasN C.int
	d := C.cfmt_wparse(&w[0], p, C.size_t(n), &hasN)
	return Result{Demanded: int(d), HasN: hasN != 0, Types: toInts(t)}
}

// Count runs the parser exactly as the runtime's checkers build it: no
// type recording, with the fast paths that depend on that.
func Count(format string) Result {
	cs := cstring(format)
	defer C.free(unsafe.Pointer(cs))
	var hasN C.int
	d := C.cfmt_count(cs, &hasN)
	return Result{Demanded: int(d), HasN: hasN != 0}
}

// CountWide is Count for a wide format.
func CountWide(format []rune) Result {
	w := make([]C.wchar_t, 0, len(format)+1)
	for _, r := range format {
		if r == 0 {
			break
		}
		w = append(w, C.wchar_t(r))
	}
	w = append(w, 0)
	var hasN C.int
	d := C.cfmt_wcount(&w[0], &hasN)
	return Result{Demanded: int(d), HasN: hasN != 0}
}

// Glibc runs glibc's parse_printf_format, recording up to n argument types.
func Glibc(format string, n int) Result {
	cs := cstring(format)
	defer C.free(unsafe.Pointer(cs))
	t, p := types(n)
	d := C.cfmt_glibc(cs, p, C.size_t(n))
	return Result{Demanded: int(d), Types: toInts(t)}
}

// Argument classes a call passes (formatguard/runtime/fg_class.h).
const (
	ClassAny     = 0
	ClassInt     = 1
	ClassPtr     = 2
	ClassDouble  = 3
	ClassLDouble = 4
	// ClassArgs is how many leading arguments carry their class.
	ClassArgs = 8
)

// Mismatch runs the runtime's typed check of format for a call passing
// count arguments whose first classes are classes (ClassInt...): the index
// of the first argument the format reads as a class the call did not pass,
// or -1.
func Mismatch(format string, count int, classes []int) int {
	cs := cstring(format)
	defer C.free(unsafe.Pointer(cs))
	cls := make([]C.uint, len(classes)+1)
	for i, c := range classes {
		cls[i] = C.uint(c)
	}
	return int(C.cfmt_mismatch(cs, C.uint(count), &cls[0], C.size_t(len(classes))))
}
