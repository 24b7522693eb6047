// Package contract owns the facts that immunix-cc, immunix check, the guard
// runtime's builder and the words users read must agree on
// (docs/contracts.md): the protection names, their order, the side of the
// build that applies each (compile, link or both), the level each starts
// at, and the guard runtime's symbols. Its table is the one place a new
// protection is named; everything else reads it.
//
// It imports nothing of immunix, so that any package may import it.
package contract

import (
	"fmt"
	"strings"
)

// Protection is one of the protection names of docs/contracts.md, the single
// vocabulary of IMMUNIX_DISABLE, the config file, the build stamp, the
// IMMUNIX_LOG lines and immunix check.
type Protection string

// The protections, in contract order.
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
	// BoundsGuard and the measured candidates (docs/boundsguard.md).
	Bounds    Protection = "bounds"
	AutoInit  Protection = "autoinit"
	CXXAssert Protection = "cxxassert"
	ZeroRegs  Protection = "zeroregs"
	ObjSize   Protection = "objsize"
)

// Side says which step of a build applies a protection and records it in
// its stamp: a compile (one note per translation unit) or a link.
type Side uint8

const (
	Compile Side = 1 << iota
	Link
)

func (s Side) String() string {
	switch s {
	case Compile:
		return "compile"
	case Link:
		return "link"
	case Compile | Link:
		return "compile, link"
	}
	return fmt.Sprintf("Side(%d)", uint8(s))
}

// Level is a protection level: which protections immunix-cc adds
// (IMMUNIX_LEVEL, the config file, the rpm and dpkg integration).
type Level int

// The levels. Each protection belongs to the lowest level that adds it.
const (
	LevelDefault Level = iota // measured cost <= 1% (BENCHMARKS.md)
	LevelMax                  // opt-in: IMMUNIX_LEVEL=max
)

var levelNames = [...]string{"default", "max"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel parses IMMUNIX_LEVEL ("" is the default level).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return LevelDefault, nil
	case "max":
		return LevelMax, nil
	}
	return 0, fmt.Errorf("unknown level %q (known: %s)", s, strings.Join(levelNames[:], ", "))
}

// Row is what the contract says of one protection.
type Row struct {
	Protection Protection
	Side       Side
	// Level is the lowest level that adds the protection; the measurements
	// that put the opt-in ones there are in BENCHMARKS.md ("BoundsGuard
	// and the candidates").
	Level Level
	// Does is what immunix-cc does for it, as docs/contracts.md's table
	// says.
	Does string
}

// Table is every protection, in contract order: the order of stamps,
// IMMUNIX_LOG lines and help texts. A new protection is a row here (and
// its rule in ccwrap's Decide, its flags, its doc).
var Table = []Row{
	{Canary, Compile, LevelDefault, "`-fstack-protector-strong`"},
	{StackClash, Compile, LevelDefault, "`-fstack-clash-protection`"},
	{CET, Compile, LevelDefault, "`-fcf-protection=full` (x86 only)"},
	{Fortify, Compile, LevelDefault, "`-D_FORTIFY_SOURCE=3` (2 where 3 is unsupported), only when optimising"},
	{FormatSec, Compile, LevelDefault, "`-Wformat -Wformat-security`"},
	{FormatGuard, Compile, LevelDefault, "FormatGuard wrapper headers first on the include path (`-isystem`)"},
	{PIE, Compile | Link, LevelDefault, "`-fPIE` when compiling for an executable, `-pie` when linking one"},
	{RELRO, Link, LevelDefault, "`-Wl,-z,relro`"},
	{Now, Link, LevelDefault, "`-Wl,-z,now`"},
	{NoExecStack, Link, LevelDefault, "`-Wl,-z,noexecstack`"},
	{Runtime, Link, LevelDefault, "the guard runtime archive (StackGuard alerts, fork renewal, FORTIFY alerts, FormatGuard checks; RaceGuard in dynamically linked executables)"},
	{Bounds, Compile, LevelMax, "array-bounds checks calling the guard runtime (gcc `-fsanitize=bounds`, clang `-fsanitize=array-bounds`, non-recovering), docs/boundsguard.md"},
	{AutoInit, Compile, LevelMax, "`-ftrivial-auto-var-init=zero`"},
	{CXXAssert, Compile, LevelMax, "`-D_GLIBCXX_ASSERTIONS` (C++)"},
	{ZeroRegs, Compile, LevelMax, "`-fzero-call-used-regs=used-gpr`"},
	{ObjSize, Compile, LevelMax, "clang `-fsanitize=object-size`, non-recovering, through the guard runtime"},
}

// Protections lists every protection in contract order.
var Protections = func() []Protection {
	out := make([]Protection, len(Table))
	for i, r := range Table {
		out[i] = r.Protection
	}
	return out
}()

// Index returns p's place in contract order, or len(Table) for a name that
// is not a protection.
func Index(p Protection) int {
	for i, r := range Table {
		if r.Protection == p {
			return i
		}
	}
	return len(Table)
}

// Lookup returns p's row.
func Lookup(p Protection) (Row, bool) {
	if i := Index(p); i < len(Table) {
		return Table[i], true
	}
	return Row{}, false
}

// Names returns the protection names in contract order.
func Names() []string {
	out := make([]string, len(Protections))
	for i, p := range Protections {
		out[i] = string(p)
	}
	return out
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
			for _, r := range Table {
				out[r.Protection] = true
			}
			continue
		}
		if Index(Protection(f)) == len(Table) {
			return nil, fmt.Errorf("unknown protection %q (known: %s, all)", f, strings.Join(Names(), ","))
		}
		out[Protection(f)] = true
	}
	return out, nil
}

// Sorted returns ps in contract order, without duplicates.
func Sorted(ps []Protection) []Protection {
	seen := map[Protection]bool{}
	var out []Protection
	for _, r := range Table {
		for _, q := range ps {
			if q == r.Protection && !seen[q] {
				seen[q] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// The guard runtime's symbols, which guardlib builds and links and
// immunix check looks for.
const (
	// InitSymbol is the runtime's initialiser; guardlib's LinkArgs
	// forces it in with -u, and check takes its definition as the sign
	// that the runtime is linked in.
	InitSymbol = "__immunix_guard_init"
	// RaceGuardInitSymbol is RaceGuard's initialiser, forced in with -u.
	RaceGuardInitSymbol = "__immunix_raceguard_init"
	// RuntimeLocalPrefix starts the name of every local (static) function
	// of the runtime, so that check can tell them from the program's in a
	// file that is not stripped.
	RuntimeLocalPrefix = "__immunix_rt_"
)
