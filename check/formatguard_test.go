package check

import (
	"strings"
	"testing"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/stamp"
)

// TestFormatGuardWhatIsCalled: a call to the file's own definition of a
// printf-family name is printf's only when the definition is the guard
// runtime's entry point or, in a static program, libc's code recognised
// by content; a program's own err is not (gawk). An address-taken printf
// makes the verdict unknown, "partial" (mawk), unless calls are bare.
func TestFormatGuardWhatIsCalled(t *testing.T) {
	funcs := []elfacts.Func{
		{Name: "main", Addr: 0x1000, Size: 0x100},
		{Name: "err", Addr: 0x2000, Size: 0x40},           // the program's own
		{Name: "__sprintf_chk", Addr: 0x3000, Size: 0x40}, // the runtime's entry point
		{Name: "printf", Addr: 0x4000, Size: 0x40, Toolchain: true},
		{Name: "__immunix_guard_init", Addr: 0x5000, Size: 0x10},
	}
	site := func(callee string, addr, def uint64, f elfacts.FormatOrigin) elfacts.CallSite {
		return elfacts.CallSite{Callee: callee, Addr: addr, Func: 0, Def: def, Format: f}
	}
	for _, tc := range []struct {
		name   string
		static bool
		sites  []elfacts.CallSite
		status Status
		value  string
		lists  map[string]int
	}{
		{"own err is not libc's", false, []elfacts.CallSite{
			site("err", 0x1010, 0x2000, elfacts.FormatUnchecked),
			site("printf", 0x1020, 0, elfacts.FormatLiteral),
		}, Pass, "0 checked, 1 literal, 0 bare calls", map[string]int{"own-function": 1}},
		{"imported err is libc's", false, []elfacts.CallSite{
			site("err", 0x1010, 0, elfacts.FormatUnchecked),
		}, Fail, "0 checked, 0 literal, 1 bare calls", map[string]int{"bare": 1}},
		{"the runtime's __sprintf_chk is printf's", false, []elfacts.CallSite{
			site("__sprintf_chk", 0x1010, 0x3000, elfacts.FormatUnchecked),
		}, Fail, "0 checked, 0 literal, 1 bare calls", map[string]int{"bare": 1}},
		{"static libc printf recognised by content", true, []elfacts.CallSite{
			site("printf", 0x1010, 0x4000, elfacts.FormatUnchecked),
			site("err", 0x1018, 0x2000, elfacts.FormatUnchecked),
		}, Fail, "0 checked, 0 literal, 1 bare calls", map[string]int{"bare": 1, "own-function": 1}},
		{"address taken: partial", false, []elfacts.CallSite{
			site("fprintf", 0x1010, 0, elfacts.FormatAddressTaken),
			site("printf", 0x1020, 0, elfacts.FormatChecked),
		}, Unknown, "partial: 1 checked, 0 literal, 0 bare calls; the address of a printf-family function is taken in 1 places, and calls through a pointer are not checked by FormatGuard", map[string]int{"address-taken": 1, "checked": 1}},
		{"address taken and bare: fail", false, []elfacts.CallSite{
			site("fprintf", 0x1010, 0, elfacts.FormatAddressTaken),
			site("printf", 0x1020, 0, elfacts.FormatUnchecked),
		}, Fail, "0 checked, 0 literal, 1 bare calls; address of a printf-family function taken in 1 places", map[string]int{"address-taken": 1, "bare": 1}},
		{"a unit built with counts only says so", false, []elfacts.CallSite{
			site("printf", 0x1020, 0, elfacts.FormatChecked),
		}, Pass, "1 checked, 0 literal, 0 bare calls; 1 units checked by count only, without argument classes (their build stamps say fg=counts)", map[string]int{"checked": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &elfacts.Facts{Kind: elfacts.KindPIE, Static: tc.static, Defined: []string{"__immunix_guard_init"},
				Canary: elfacts.Canary{Analyzed: true, Funcs: funcs},
				Calls:  elfacts.Calls{Analyzed: true, Sites: tc.sites}}
			if strings.HasPrefix(tc.name, "a unit built with counts only") {
				f.Stamps = []stamp.Stamp{{Type: stamp.Compile, Version: "1", On: []string{"formatguard"}, Extra: map[string]string{"fg": "counts"}},
					{Type: stamp.Compile, Version: "1", On: []string{"formatguard"}}}
			}
			r := formatGuardResult(f)
			if r.Status != tc.status || r.Value != tc.value {
				t.Errorf("got %s (%s), want %s (%s)", r.Status, r.Value, tc.status, tc.value)
			}
			for k, n := range tc.lists {
				if len(r.Lists[k]) != n {
					t.Errorf("list %s: %q, want %d entries", k, r.Lists[k], n)
				}
			}
			for k, v := range r.Lists {
				if _, ok := tc.lists[k]; !ok {
					t.Errorf("unexpected list %s: %s", k, strings.Join(v, "; "))
				}
			}
		})
	}
}
