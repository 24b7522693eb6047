package cfmt

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// slots is how many argument types both parsers record.
const slots = 16

// compare reports any disagreement between our parser and glibc's.
func compare(t *testing.T, format string) {
	t.Helper()
	ours, theirs := Parse(format, slots), Glibc(format, slots)
	if ours.Demanded != theirs.Demanded || !reflect.DeepEqual(ours.Types, theirs.Types) {
		t.Fatalf("format %q: ours demands %d types %v; glibc demands %d types %v",
			format, ours.Demanded, ours.Types, theirs.Demanded, theirs.Types)
	}
	// The runtime's own build (no types, fast paths) must agree too.
	if c := Count(format); c.Demanded != theirs.Demanded || c.HasN != ours.HasN {
		t.Fatalf("format %q: the runtime's counting parser says %+v; glibc demands %d, typed parser has %%n=%v", format, c, theirs.Demanded, ours.HasN)
	}
	wantN := strings.Contains(format, "n") && hasNConv(theirs.Types)
	if ours.HasN && !strings.Contains(format, "n") || wantN && !ours.HasN {
		t.Fatalf("format %q: HasN = %v", format, ours.HasN)
	}
	// The wide parser must agree with the narrow one on the same characters
	// (glibc has no wide parse_printf_format).
	if utf8.ValidString(format) {
		w := ParseWide([]rune(format), slots)
		if w.Demanded != ours.Demanded || w.HasN != ours.HasN || !reflect.DeepEqual(w.Types, ours.Types) {
			t.Fatalf("format %q: wide parser says %+v, narrow %+v", format, w, ours)
		}
		if c := CountWide([]rune(format)); c.Demanded != ours.Demanded || c.HasN != ours.HasN {
			t.Fatalf("format %q: wide counting parser says %+v, narrow %+v", format, c, ours)
		}
	}
}

// hasNConv: a %n conversion leaves an int-pointer type in the table.
func hasNConv(types []int) bool {
	for _, ty := range types {
		if ty >= 0 && ty&(1<<11) != 0 {
			return true
		}
	}
	return false
}

var cases = []string{
	"", "plain", "%%", "%d", "%5d", "%-+ #0'Id", "%*d", "%.*d", "%*.*d",
	"%1$d", "%2$d", "%2$*1$d", "%1$*2$.*3$f", "%3$s %1$s", "%1$d %d",
	"%d %1$d", "%0$d", "%00$d", "%2147483647$d", "%2147483648$d",
	"%99999999999$d", "%*2147483648$d", "%hhd", "%hd", "%ld", "%lld",
	"%Ld", "%qd", "%jd", "%zd", "%Zd", "%td", "%Lf", "%lf", "%c", "%lc",
	"%C", "%s", "%ls", "%S", "%p", "%n", "%hhn", "%lln", "%1$n", "%m",
	"%5m", "%y", "%", "%5", "%-", "%.", "%*", "%1$", "%l", "%hh", "%b",
	"%B", "%a", "%A", "%e", "%E", "%g", "%G", "%F", "%x", "%X", "%o",
	"%u", "%i", "%.d", "%.5s", "%1$*d", "%*1$d", "%.*1$d", "%-*3$.*2$s",
	"%'.3f", "%I5d", "%05$d", "% 3$d", "%1$%", "%*%", "%**d", "%.**d",
	"%s%n%s", "%1$s%1$s", "%20$p", "%5-d", "%-5$d", "%05d", "%-08.3lf",
	"%hhx%llu%zu%jd%td%Lg%qd", "%.3f", "%5$-d", "%'I-+ #0d", "%lln%hhn",
	"%ll", "%.", "%5.", "%h", "%-", "%#", "%l%", "%5m", "%-10.3s|%08x",
	"%*.*f", "%*5d", "%.*5d", "%-*.*e", "%*%", "%.*%", "%*m", "%*", "%.*", "%0*d", "%*1$d", "%.*2$d",
}

func TestAgreesWithGlibc(t *testing.T) {
	for _, c := range cases {
		compare(t, c)
	}
}

func TestHasN(t *testing.T) {
	for _, c := range []struct {
		f    string
		want bool
	}{{"%n", true}, {"%hhn", true}, {"%3$n", true}, {"%%n", false}, {"n", false}, {"%5.3ln", true}, {"%s", false}} {
		if got := Parse(c.f, 0).HasN; got != c.want {
			t.Errorf("Parse(%q).HasN = %v, want %v", c.f, got, c.want)
		}
	}
}

func FuzzAgreesWithGlibc(f *testing.F) {
	for _, c := range cases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, format string) {
		compare(t, format)
	})
}

// validClass is the class of what a valid call passes for an argument
// glibc types as pa (<printf.h> PA_*), written here independently of the
// runtime's fg_class.h: ClassAny where glibc sets no type (an argument
// the format skips).
func validClass(pa int) int {
	const (
		paInt, paChar, paWchar, paString, paWstring, paPointer, paFloat, paDouble = 0, 1, 2, 3, 4, 5, 6, 7
		flagLongDouble, flagPtr                                                   = 1 << 8, 1 << 11
	)
	if pa < 0 {
		return ClassAny
	}
	if pa&flagPtr != 0 {
		return ClassPtr
	}
	switch pa & 0xff {
	case paString, paWstring, paPointer:
		return ClassPtr
	case paFloat, paDouble:
		if pa&flagLongDouble != 0 {
			return ClassLDouble
		}
		return ClassDouble
	default:
		return ClassInt
	}
}

// compareTypes checks the runtime's typed check against glibc's types: a
// call passing exactly what glibc says the format reads is allowed, and a
// call passing an integer where a conversion dereferences a pointer (%s),
// or the wrong floating class, is stopped at that argument.
func compareTypes(t *testing.T, format string) {
	t.Helper()
	g := Glibc(format, ClassArgs)
	if g.Demanded > 127 {
		return
	}
	classes := make([]int, ClassArgs)
	for i := range classes {
		classes[i] = validClass(g.Types[i])
	}
	if bad := Mismatch(format, g.Demanded, classes); bad != -1 {
		t.Fatalf("format %q with the classes glibc's types %v call for (%v): the typed check stops argument %d", format, g.Types, classes[:min(g.Demanded, ClassArgs)], bad+1)
	}
	for i := 0; i < ClassArgs && i < g.Demanded; i++ {
		var wrong []int
		switch classes[i] {
		case ClassPtr:
			if g.Types[i]&0xff == 3 || g.Types[i]&0xff == 4 { // %s, %ls: dereferenced
				wrong = []int{ClassInt, ClassDouble, ClassLDouble}
			} else {
				wrong = []int{ClassDouble, ClassLDouble}
			}
		case ClassInt:
			wrong = []int{ClassDouble, ClassLDouble}
		case ClassDouble:
			wrong = []int{ClassInt, ClassPtr, ClassLDouble}
		case ClassLDouble:
			wrong = []int{ClassInt, ClassPtr, ClassDouble}
		}
		for _, w := range wrong {
			c := append([]int{}, classes...)
			c[i] = w
			if bad := Mismatch(format, g.Demanded, c); bad > i || bad == -1 {
				t.Fatalf("format %q (glibc types %v): class %d for argument %d is not stopped there (mismatch at %d)", format, g.Types, w, i+1, bad)
			}
		}
	}
}

var typeCases = []string{
	"%La %La", "%s", "%f", "%Lf", "%lf", "%llf", "%qf", "%d %s %f %Lg %p %c %lc %ls",
	"%2$s %1$Lf", "%*.*f", "%1$*2$d", "%n", "%p", "%hhd %hd %ld %lld %jd %zd %td",
	"%3$s", "%C%S", "%9$d %1$s", "%%", "%m %s",
}

func TestTypesAgainstGlibc(t *testing.T) {
	for _, c := range append(append([]string{}, cases...), typeCases...) {
		compareTypes(t, c)
	}
	// The attacks of issue 15: "%La %La" over two ints, %s over an int,
	// %f over a pointer.
	for _, c := range []struct {
		f       string
		classes []int
		want    int
	}{
		{"%La %La", []int{ClassInt, ClassInt}, 0},
		{"%d %s", []int{ClassInt, ClassInt}, 1},
		{"%f", []int{ClassPtr}, 0},
		{"%2$s", []int{ClassPtr, ClassInt}, 1},
		{"%s %d", []int{ClassPtr, ClassPtr}, -1},
		{"%lx %p", []int{ClassPtr, ClassInt}, -1},
		{"%s", []int{ClassAny}, -1},
	} {
		if got := Mismatch(c.f, len(c.classes), c.classes); got != c.want {
			t.Errorf("Mismatch(%q, %v) = %d, want %d", c.f, c.classes, got, c.want)
		}
	}
}

func FuzzTypesAgainstGlibc(f *testing.F) {
	for _, c := range append(append([]string{}, cases...), typeCases...) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, format string) {
		compareTypes(t, format)
	})
}
