package formatguard

import (
	"strings"
	"testing"
)

func TestFunctionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Functions {
		if seen[f.Name] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Base == "" || f.Header == "" {
			t.Errorf("%s: missing Base or Header", f.Name)
		}
		if f.Wrapped {
			if f.VaList || f.Base != f.Name || strings.HasPrefix(f.Name, "__") {
				t.Errorf("%s: a wrapped function must be variadic, its own base, and not a _chk entry point", f.Name)
			}
			if got, want := f.Checker(), "__immunix_fg_"+f.Name; got != want {
				t.Errorf("%s: Checker() = %q, want %q", f.Name, got, want)
			}
		} else if f.Checker() != "" {
			t.Errorf("%s: unwrapped function has checker %q", f.Name, f.Checker())
		}
	}
	for _, f := range Functions {
		b, ok := Lookup(f.Base)
		if !ok || !b.Wrapped {
			t.Errorf("%s: base %q is not a wrapped function", f.Name, f.Base)
		}
		if b.Wide != f.Wide {
			t.Errorf("%s: Wide differs from its base %s", f.Name, b.Name)
		}
	}
	if _, ok := Lookup("puts"); ok {
		t.Error("Lookup(puts) found something")
	}
}
