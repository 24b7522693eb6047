package check

import (
	"fmt"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/contract"
)

// PBounds is BoundsGuard's property: the array-bounds level of the file,
// judged from its code (docs/boundsguard.md).
const PBounds = string(contract.Bounds)

// boundsPartial is the measure of a file whose checks cover some of the
// functions that index a stack array, not all (the table shows
// "partial?").
const boundsPartial = "partial"

// boundsResult reports the bounds level from the code: the functions that
// hold a bounds check (a compare whose out-of-range side calls the bounds
// handler, the guard runtime's linked in, with the compiler's record of
// the array: elfacts' tie), against those that index an array in their own
// stack frame with a register the code does not bound. Pass: checks are
// compiled in and every function that indexes a stack array so holds one.
// Unknown (partial): checks are compiled in, but some such functions hold
// none (an object built without BoundsGuard linked in, or accesses the
// compiler proved in range in a way check does not follow); they are
// listed. Fail: functions index stack arrays with an index the code does
// not bound, and none holds a check (calls of a handler outside any check
// do not count). Unknown: no check, and the only stack indexes are ones
// the code bounds inside the frame (whether inside the array too needs its
// size, which the code does not show). n/a: no function indexes a stack
// array. The user's own sanitizer's checks (libubsan's handler, called
// through the PLT) count the same way. The build stamp is not consulted: a
// stamp that says "bounds" proves nothing about the code.
func boundsResult(f *elfacts.Facts, env *Env) Result {
	r := Result{Property: PBounds}
	b := f.Bounds
	switch {
	case f.Kind == elfacts.KindOther || f.Kind == elfacts.KindObject:
		r.Status, r.Value = NA, "not a linked program or library"
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
	var checked, unchecked, untied []string
	objsize, bounded := 0, 0
	for _, fn := range b.Funcs {
		if fn.Name != "" && (isGuardRuntimeFunc(elfacts.Func{Name: fn.Name}) || (f.Static && toolchain[fn.Name])) {
			continue
		}
		if fn.Checked {
			checked = append(checked, fn.Name)
		}
		if fn.Untied {
			untied = append(untied, fn.Name)
		}
		if fn.ObjSize {
			objsize++
		}
		switch {
		case fn.Indexes && !fn.Checked:
			unchecked = append(unchecked, fn.Name)
		case !fn.Indexes && fn.Bounded:
			bounded++
		}
	}
	level := "bounds"
	if objsize > 0 {
		level = "bounds+objsize"
	}
	r.Lists = map[string][]string{}
	for name, l := range map[string][]string{"checked": checked, "unchecked": unchecked, "untied": untied} {
		if len(l) > 0 {
			r.Lists[name] = l
		}
	}
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	via := ""
	if b.Handler == "libubsan" {
		via = " (through libubsan: the user's own -fsanitize)"
		level += via
	}
	outside := ""
	if len(untied) > 0 {
		outside = fmt.Sprintf("; %d functions call a bounds handler outside any check (listed: untied)", len(untied))
	}
	switch {
	case len(checked) > 0 && len(unchecked) == 0:
		r.Status, r.Measure = Pass, level
		r.Value = fmt.Sprintf("%s: %d functions hold a bounds check; every function that indexes a stack array with a register the code does not bound is one of them%s", level, len(checked), outside)
	case len(checked) > 0:
		r.Status, r.Measure = Unknown, boundsPartial
		r.Value = fmt.Sprintf("partial: %d functions hold a bounds check%s, %d functions index a stack array with a register the code does not bound and hold none (listed: unchecked): code built without BoundsGuard, or accesses the compiler proved in range in a way check does not follow, or that are no array subscripts (an inlined copy)%s", len(checked), via, len(unchecked), outside)
	case len(unchecked) > 0:
		r.Status, r.Measure = Fail, "none"
		r.Value = fmt.Sprintf("none: %d functions index a stack array with a register the code does not bound, no function holds a bounds check%s", len(unchecked), outside)
	case bounded > 0:
		r.Status = Unknown
		r.Value = fmt.Sprintf("no bounds check: %d functions index a stack array only with an index the code bounds inside the frame; whether inside the array needs the array's size, which the code does not show (the compiler drops the check where the bound fits)%s", bounded, outside)
	default:
		r.Status = NA
		r.Value = "no function indexes a stack array with a register, none holds a bounds check" + outside
	}
	return r
}
