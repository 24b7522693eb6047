package ccwrap

import (
	"github.com/immunix/immunix/internal/contract"
)

// Protection is one of the protection names of docs/contracts.md; package
// contract owns them, their order, side and level.
type Protection = contract.Protection

// The protections, in the order of docs/contracts.md (contract.Table).
const (
	Canary      = contract.Canary
	StackClash  = contract.StackClash
	CET         = contract.CET
	Fortify     = contract.Fortify
	FormatSec   = contract.FormatSec
	FormatGuard = contract.FormatGuard
	PIE         = contract.PIE
	RELRO       = contract.RELRO
	Now         = contract.Now
	NoExecStack = contract.NoExecStack
	Runtime     = contract.Runtime
	Bounds      = contract.Bounds
	AutoInit    = contract.AutoInit
	CXXAssert   = contract.CXXAssert
	ZeroRegs    = contract.ZeroRegs
	ObjSize     = contract.ObjSize
)

// Protections lists every protection in contract order.
var Protections = contract.Protections

// ParseProtections parses a comma-separated list of protection names, as in
// IMMUNIX_DISABLE (contract.ParseProtections).
func ParseProtections(s string) (map[Protection]bool, error) {
	return contract.ParseProtections(s)
}

// sortProtections orders ps in contract order, without duplicates.
func sortProtections(ps []Protection) []Protection {
	return contract.Sorted(ps)
}

func protectionStrings(ps []Protection) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
