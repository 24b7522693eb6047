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
