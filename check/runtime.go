package check

import (
	"strings"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/contract"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/raceguard"
)

// hasGuardRuntime reports whether immunix-cc linked its guard runtime into
// the file: the link stamp says so, or the runtime's initialiser is there.
func hasGuardRuntime(f *elfacts.Facts) bool {
	for _, s := range f.Stamps {
		if s.Type == stamp.Link && s.Has(string(contract.Runtime)) {
			return true
		}
	}
	for _, n := range f.Defined {
		if n == contract.InitSymbol {
			return true
		}
	}
	return false
}

// raceGuardWrapper holds the libc names RaceGuard's wrappers define.
var raceGuardWrapper = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range raceguard.Wrappers {
		m[w] = true
	}
	return m
}()

// raceGuardLinked reports whether the file exports RaceGuard's marker: then
// its global open, stat, ... (raceguard.Wrappers) are the runtime's,
// built without a canary like the rest of it.
func raceGuardLinked(f *elfacts.Facts) bool {
	for _, n := range f.Exported {
		if n == raceguard.Marker {
			return true
		}
	}
	return false
}

// isGuardRuntimeFunc reports whether fn is part of the guard runtime, whose
// objects docs/contracts.md says are built with -fno-stack-protector (the
// canary failure path must not depend on the canary).
func isGuardRuntimeFunc(fn elfacts.Func) bool {
	n := fn.Name
	if i := strings.IndexByte(n, '.'); i > 0 { // foo.constprop.0, foo.cold
		n = n[:i]
	}
	// "__immunix_" covers the entry points and, through
	// contract.RuntimeLocalPrefix ("__immunix_rt_"), every local function of
	// the archive, also where strip -g removed the STT_FILE symbols.
	if strings.HasPrefix(n, "__immunix_") || n == "__stack_chk_fail" || n == "__wrap___stack_chk_fail" || n == "__stack_chk_fail_local" || n == "__wrap___stack_chk_fail_local" {
		return true
	}
	// The runtime's FORTIFY entry points. Never by source file name
	// (STT_FILE): a program's own init.c is not the runtime's.
	_, ok := fortified[n]
	return ok
}
