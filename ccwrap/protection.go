package ccwrap

import (
	"fmt"
	"strings"
)

// Protection is one of the protection names of docs/contracts.md, the single
// vocabulary of IMMUNIX_DISABLE, the config file, the build stamp and the
// IMMUNIX_LOG lines.
type Protection string

// The protections, in the order of docs/contracts.md.
const (
	Canary      Protection = "canary"
	StackClash  Protection = "stackclash"
	CET         Protection = "cet"
	Fortify     Protection = "fortify"
	FormatSec   Protection = "formatsec"
	FormatGuard Protection = "formatguard"
	PIE         Protection = "pie"
	RELRO       Protection = "relro"
	Now         Protection = "now"
	NoExecStack Protection = "noexecstack"
	Runtime     Protection = "runtime"
	// BoundsGuard and the measured candidates (bounds.go, docs/boundsguard.md).
	Bounds    Protection = "bounds"
	AutoInit  Protection = "autoinit"
	CXXAssert Protection = "cxxassert"
	ZeroRegs  Protection = "zeroregs"
	ObjSize   Protection = "objsize"
)

// Protections lists every protection in contract order.
var Protections = []Protection{Canary, StackClash, CET, Fortify, FormatSec, FormatGuard, PIE, RELRO, Now, NoExecStack, Runtime, Bounds, AutoInit, CXXAssert, ZeroRegs, ObjSize}

func protectionIndex(p Protection) int {
	for i, q := range Protections {
		if q == p {
			return i
		}
	}
	return len(Protections)
}

// ParseProtections parses a comma-separated list of protection names, as in
// IMMUNIX_DISABLE. Spaces around names and empty items are ignored; "all"
// names every protection.
func ParseProtections(s string) (map[Protection]bool, error) {
	out := map[Protection]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "all" {
			for _, p := range Protections {
				out[p] = true
			}
			continue
		}
		if protectionIndex(Protection(f)) == len(Protections) {
			names := make([]string, len(Protections))
			for i, p := range Protections {
				names[i] = string(p)
			}
			return nil, fmt.Errorf("unknown protection %q (known: %s, all)", f, strings.Join(names, ","))
		}
		out[Protection(f)] = true
	}
	return out, nil
}

// sortProtections orders ps in contract order, without duplicates.
func sortProtections(ps []Protection) []Protection {
	seen := map[Protection]bool{}
	var out []Protection
	for _, p := range Protections {
		for _, q := range ps {
			if q == p && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func protectionStrings(ps []Protection) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
