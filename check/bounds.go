package check

import (
	"fmt"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/contract"
)

// PBounds is BoundsGuard's property: the array-bounds level of the file,
// judged from its code (docs/boundsguard.md).
const PBounds = string(contract.Bounds)

// boundsResult reports the bounds level: the functions that call the bounds
// handler (the guard runtime's, linked in, or libubsan's when the user's own
// sanitizer brought it) against those that index an array in their own
// stack frame with a register. Pass: bounds checks are compiled in (some
// function calls the handler). Fail: functions index stack arrays with an
// index the code does not bound, and none is checked. Unknown: no check,
// and the only stack indexes are ones the code bounds inside the frame
// (whether inside the array too needs its size, which the code does not
// show, and the compiler drops the check where the bound fits). n/a: no
// function indexes a stack array. The build stamp is not consulted: a
// stamp that says "bounds" proves nothing about the code.
func boundsResult(f *elfacts.Facts, env *Env) Result {
	r := Result{Property: PBounds}
	b := f.Bounds
	switch {
	case f.Kind == elfacts.KindOther || f.Kind == elfacts.KindObject:
		r.Status, r.Value = NA, "not a linked program or library"
		return r
	case b.Handler == "libubsan":
		r.Status, r.Value = Pass, "bounds checks through libubsan (the user's own -fsanitize)"
		return r
	case !b.Analyzed:
		r.Status, r.Value = Unknown, b.Why
		if r.Value == "" {
			r.Value = "not analysed"
		}
		return r
	}
	// The guard runtime's own functions (built without instrumentation on
	// purpose) and, in a static program, libc's (recognised by their code
	// in the canary analysis, never by name) are not the program's.
	toolchain := map[string]bool{}
	for _, fn := range f.Canary.Funcs {
		if fn.Toolchain && fn.Name != "" {
			toolchain[fn.Name] = true
		}
	}
	var checked []string
	objsize, indexing, unchecked, bounded := 0, 0, 0, 0
	for _, fn := range b.Funcs {
		if fn.Name != "" && (isGuardRuntimeFunc(elfacts.Func{Name: fn.Name}) || (f.Static && toolchain[fn.Name])) {
			continue
		}
		if fn.Checked {
			checked = append(checked, fn.Name)
		}
		if fn.ObjSize {
			objsize++
		}
		if fn.Indexes {
			indexing++
			if !fn.Checked {
				unchecked++
			}
		} else if fn.Bounded {
			bounded++
		}
	}
	level := "bounds"
	if objsize > 0 {
		level = "bounds+objsize"
	}
	switch {
	case len(checked) > 0:
		r.Status = Pass
		r.Value = fmt.Sprintf("%s: %d functions call the bounds handler; %d of %d functions that index a stack array with a register the code does not bound have no check (the compiler drops those it proves in range)",
			level, len(checked), unchecked, indexing)
		r.Lists = map[string][]string{"checked": checked}
		r.Measure = level
	case indexing > 0:
		r.Status, r.Measure = Fail, "none"
		r.Value = fmt.Sprintf("none: %d functions index a stack array with a register the code does not bound, no function calls a bounds handler", indexing)
	case bounded > 0:
		r.Status = Unknown
		r.Value = fmt.Sprintf("no bounds check: %d functions index a stack array only with an index the code bounds inside the frame; whether inside the array needs the array's size, which the code does not show (the compiler drops the check where the bound fits)", bounded)
	default:
		r.Status, r.Value = NA, "no function indexes a stack array with a register, none calls a bounds handler"
	}
	return r
}
