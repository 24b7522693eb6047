package check

import (
	"strings"
	"testing"

	"github.com/immunix/immunix/check/elfacts"
)

// TestBoundsResult: the bounds verdict from the per-function analysis.
func TestBoundsResult(t *testing.T) {
	checked := elfacts.BoundsFunc{Name: "checked", Checked: true, Calls: true, Indexes: true}
	plain := elfacts.BoundsFunc{Name: "plain", Indexes: true}
	bounded := elfacts.BoundsFunc{Name: "bounded", Bounded: true}
	untied := elfacts.BoundsFunc{Name: "untied", Calls: true, Untied: true}
	runtime := elfacts.BoundsFunc{Name: "__immunix_rt_put_num", Indexes: true}
	for _, c := range []struct {
		name    string
		handler string
		funcs   []elfacts.BoundsFunc
		status  Status
		value   string
		lists   map[string]int
	}{
		{"every indexing function checked", "runtime", []elfacts.BoundsFunc{checked, bounded, runtime}, Pass, "bounds:", map[string]int{"checked": 1}},
		// An object built without BoundsGuard linked beside checked
		// code: not a pass.
		{"mixed", "runtime", []elfacts.BoundsFunc{checked, plain}, Unknown, "partial:", map[string]int{"checked": 1, "unchecked": 1}},
		{"none", "runtime", []elfacts.BoundsFunc{plain, bounded}, Fail, "none:", map[string]int{"unchecked": 1}},
		// A handler called outside any check is no check.
		{"untied only", "runtime", []elfacts.BoundsFunc{untied, plain}, Fail, "none:", map[string]int{"unchecked": 1, "untied": 1}},
		{"bounded only", "runtime", []elfacts.BoundsFunc{bounded}, Unknown, "no bounds check:", nil},
		{"nothing", "runtime", nil, NA, "no function indexes", nil},
		{"the runtime's own", "runtime", []elfacts.BoundsFunc{runtime}, NA, "no function indexes", nil},
		// The user's own sanitizer: its calls through the PLT or the GOT
		// tie the same way; importing the handler proves nothing.
		{"libubsan", "libubsan", []elfacts.BoundsFunc{checked}, Pass, "bounds (through libubsan", map[string]int{"checked": 1}},
		{"libubsan mixed", "libubsan", []elfacts.BoundsFunc{checked, plain}, Unknown, "partial: 1 functions hold a bounds check (through libubsan", map[string]int{"checked": 1, "unchecked": 1}},
		{"libubsan untied", "libubsan", []elfacts.BoundsFunc{untied, plain}, Fail, "none:", map[string]int{"unchecked": 1, "untied": 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &elfacts.Facts{Kind: elfacts.KindExec, Bounds: elfacts.Bounds{Analyzed: true, Handler: c.handler, Funcs: c.funcs}}
			r := boundsResult(f, &Env{})
			if r.Status != c.status || !strings.HasPrefix(r.Value, c.value) {
				t.Errorf("%s %q, want %s %q...", r.Status, r.Value, c.status, c.value)
			}
			if len(r.Lists) != len(c.lists) {
				t.Errorf("lists %v, want %v", r.Lists, c.lists)
			}
			for name, n := range c.lists {
				if len(r.Lists[name]) != n {
					t.Errorf("list %s: %v, want %d", name, r.Lists[name], n)
				}
			}
		})
	}
}
