package ccwrap

// This file is Decide's table: one rule per protection and side (PIE has a
// compile and a link rule), evaluated in table order (contract order, see
// rules) by one evaluator.
// A new protection is one row here, plus its row in internal/contract's
// table and the user's opposite flags (security.go, or bounds.go for the
// level protections).

import (
	"fmt"

	"github.com/immunix/immunix/internal/contract"
)

// side is where a rule's flags go: the contract's side of the build.
type side = contract.Side

const (
	compileSide = contract.Compile
	linkSide    = contract.Link
)

// decideCtx is what the rules look at: the invocation, the policy, the
// compiler and the facts Decide derives from them once.
type decideCtx struct {
	inv  Invocation
	pol  Policy
	caps Caps
	plan *Plan // for the rules' bookkeeping (FormatGuard, Runtime, NoUBSan)

	ppFam    bool // a C-family input that is preprocessed here
	libcLess bool // -ffreestanding, or a -nostdlib link: no libc
	// bare: no startup files, libc or default link (-nostdlib,
	// -nostartfiles, -ffreestanding, a linker script).
	bare bool
	// bareLink: a link in this command that has no guard runtime.
	bareLink bool
	cxx      bool // a C++ input
	// boundsWhy: why the guard runtime's handlers are not available
	// ("" when they are).
	boundsWhy string
}

// rule decides one protection on one side. The evaluator (decide) applies
// the contract order: the user's word, then the policy (IMMUNIX_DISABLE and
// the level), then what the compiler accepts. Where the rule does not apply
// at all, applies says so first, except for userFirst rules, whose user's
// word wins over non-applicability.
type rule struct {
	p    Protection
	side side
	// applies reports whether the rule applies here, and if not, the note
	// saying why ("" for none). nil: it always applies. It may record the
	// user's word itself (fortify without optimisation).
	applies func(c *decideCtx, r *Record) (bool, string)
	// userFirst: the user's word is recorded before applicability is
	// considered (the level protections of bounds.go).
	userFirst bool
	// user is the user's word; nil: inv.User[p].
	user func(c *decideCtx) Choice
	// unsupported is "" or why the compiler cannot give p; nil: it can.
	unsupported func(c *decideCtx) string
	// flags are added when immunix turns p on.
	flags func(c *decideCtx) []string
	// after does a rule's extra bookkeeping whenever the rule got past
	// applies (the user's word or a verdict was recorded); added: immunix
	// turned p on (its flags were added).
	after func(c *decideCtx, r *Record, added bool)
}

// side evaluates the rules of one side in table order and returns the flags
// they add, each once (-fno-sanitize-link-runtime comes from two rules).
func (c *decideCtx) side(s side, r *Record) []string {
	var f []string
	for _, x := range rules {
		if x.side != s {
			continue
		}
		for _, flag := range c.decide(x, r) {
			if !containsString(f, flag) {
				f = append(f, flag)
			}
		}
	}
	return f
}

// decide evaluates one rule into its side's record and returns the flags
// it adds.
func (c *decideCtx) decide(x rule, r *Record) []string {
	ok, why := true, ""
	if x.applies != nil {
		ok, why = x.applies(c, r)
	}
	if !ok && !x.userFirst {
		if why != "" {
			r.note("%s: %s", x.p, why)
		}
		return nil
	}
	u := c.inv.User[x.p]
	if x.user != nil {
		u = x.user(c)
	}
	var f []string
	added := false
	switch {
	case u.Set && u.On:
		r.on(x.p)
	case u.Set:
		r.userOff(x.p, u.Flag)
	case c.pol.Level < ProtectionLevel[x.p]:
		// Above the policy's level: neither added nor recorded as off
		// ("off" means turned off by IMMUNIX_DISABLE).
		return nil
	case !ok:
		if why != "" {
			r.note("%s: %s", x.p, why)
		}
		return nil
	case !c.pol.Enabled(x.p):
		r.Off = append(r.Off, x.p)
	case x.unsupported != nil && x.unsupported(c) != "":
		r.note("%s: %s", x.p, x.unsupported(c))
	default:
		r.on(x.p)
		added = true
		if x.flags != nil {
			f = x.flags(c)
		}
	}
	if x.after != nil {
		x.after(c, r, added)
	}
	return f
}

// always is a flags function for a fixed list.
func always(flags ...string) func(*decideCtx) []string {
	return func(*decideCtx) []string { return flags }
}

// notAccepted is an unsupported function for a capability of Caps.
func notAccepted(has func(Caps) bool, why string) func(*decideCtx) string {
	return func(c *decideCtx) string {
		if has(c.caps) {
			return ""
		}
		return why
	}
}

// unless is an applies function: the rule does not apply when skip is true,
// and why says so ("" for no note).
func unless(skip func(c *decideCtx) bool, why string) func(*decideCtx, *Record) (bool, string) {
	return func(c *decideCtx, _ *Record) (bool, string) {
		if skip(c) {
			return false, why
		}
		return true, ""
	}
}

// rules is the table, in contract order on each side, except that the
// object-size checks follow BoundsGuard, whose runtime they share (their
// flags have always come in this order).
var rules = []rule{
	{
		p: Canary, side: compileSide,
		applies:     unless(func(c *decideCtx) bool { return c.libcLess }, "freestanding or libc-less code has no __stack_chk_fail"),
		unsupported: notAccepted(func(c Caps) bool { return c.Canary }, "compiler does not accept -fstack-protector-strong"),
		flags:       always("-fstack-protector-strong"),
	},
	{
		p: StackClash, side: compileSide,
		applies:     clashes(StackClash, "-fstack-clash-protection"),
		unsupported: notAccepted(func(c Caps) bool { return c.StackClash }, "compiler does not accept -fstack-clash-protection"),
		flags:       always("-fstack-clash-protection"),
	},
	{
		p: CET, side: compileSide,
		applies: func(c *decideCtx, r *Record) (bool, string) {
			if !c.caps.X86 {
				return false, ""
			}
			return clashes(CET, "-fcf-protection")(c, r)
		},
		unsupported: notAccepted(func(c Caps) bool { return c.CET }, "compiler does not accept -fcf-protection=full"),
		flags:       always("-fcf-protection=full"),
	},
	{
		// FORTIFY is a preprocessor macro: it means nothing for
		// already-preprocessed input and needs optimisation and libc.
		p: Fortify, side: compileSide,
		applies: func(c *decideCtx, r *Record) (bool, string) {
			u := c.inv.User[Fortify]
			switch {
			case !c.ppFam:
				return false, "input already preprocessed"
			case c.libcLess:
				return false, "freestanding or libc-less code has no __*_chk functions"
			case !c.inv.Optimize && u.Set && u.On:
				return false, u.Flag + " without optimisation has no effect"
			case !c.inv.Optimize:
				if u.Set {
					r.userOff(Fortify, u.Flag)
				}
				return false, "not optimising (glibc needs -O1 or more)"
			}
			return true, ""
		},
		flags: func(c *decideCtx) []string {
			f := []string{"-U_FORTIFY_SOURCE", fmt.Sprintf("-D_FORTIFY_SOURCE=%d", fortifyLevel(c.caps))}
			if c.inv.Werror {
				// glibc marks read(), write(), fgets()... warn_unused_result
				// only under FORTIFY: new warnings must not fail a -Werror build.
				f = append(f, "-Wno-error=unused-result")
			}
			return f
		},
		after: func(c *decideCtx, r *Record, _ bool) {
			switch u := c.inv.User[Fortify]; {
			case u.Set:
				// glibc grants at most the level it supports.
				r.Fortify = min(u.Level, fortifyLevel(c.caps))
			case r.Has(Fortify):
				r.Fortify = fortifyLevel(c.caps)
			}
		},
	},
	{
		// -Wformat-security needs -Wformat: either may come from the
		// user, immunix adds whichever part is missing.
		p: FormatSec, side: compileSide,
		user: func(c *decideCtx) Choice {
			base, fs := c.inv.FormatBase, c.inv.User[FormatSec]
			switch {
			case base.Set && !base.On:
				return base
			case fs.Set && !fs.On:
				return fs
			case base.Set && fs.Set:
				return Choice{Set: true, On: true, Flag: fs.Flag}
			}
			return Choice{}
		},
		flags: func(c *decideCtx) []string {
			// The warnings immunix adds stay warnings under the user's
			// -Werror: a hardening wrapper must not fail a build that the
			// plain compiler passes.
			var f []string
			if !c.inv.FormatBase.Set {
				f = append(f, "-Wformat")
				if c.inv.Werror {
					f = append(f, "-Wno-error=format")
				}
			}
			if !c.inv.User[FormatSec].Set {
				f = append(f, "-Wformat-security")
				if c.inv.Werror {
					f = append(f, "-Wno-error=format-security")
				}
			}
			return f
		},
	},
	{
		// Its flags come from guardlib (Plan.FormatGuard).
		p: FormatGuard, side: compileSide,
		applies: func(c *decideCtx, _ *Record) (bool, string) {
			switch {
			case !c.ppFam || c.libcLess:
				return false, ""
			case c.inv.NoStdInc:
				// The wrappers #include_next the libc headers, which
				// -nostdinc takes off the search path.
				return false, "-nostdinc: no libc headers to wrap"
			}
			return true, ""
		},
		user:  func(*decideCtx) Choice { return Choice{} },
		after: func(c *decideCtx, _ *Record, added bool) { c.plan.FormatGuard = added },
	},
	{
		// -fPIE for code that may end in an executable; a shared or
		// static link in the same command needs none, -fPIC stays.
		p: PIE, side: compileSide,
		applies: func(c *decideCtx, _ *Record) (bool, string) {
			switch {
			case c.inv.Free:
				return false, "freestanding code"
			case c.inv.Mode == ModeLink && (c.inv.Link == LinkShared || c.inv.Link == LinkStatic) && !compilePIEChoice(c).Set:
				return false, fmt.Sprintf("-fPIE does not belong in a %s link", c.inv.Link)
			}
			return true, ""
		},
		user:  compilePIEChoice,
		flags: always("-fPIE"),
	},
	{
		// Only executables are PIE; -static-pie is the user's.
		p: PIE, side: linkSide,
		applies: func(c *decideCtx, _ *Record) (bool, string) {
			return !c.bare && (c.inv.Link == LinkExe || c.inv.Link == LinkStaticPIE), ""
		},
		user: func(c *decideCtx) Choice {
			if c.inv.Link == LinkStaticPIE {
				return Choice{Set: true, On: true, Flag: "-static-pie"}
			}
			u := c.inv.LinkPIE
			if !u.Set && c.inv.User[PIE].Set && !c.inv.User[PIE].On {
				u = c.inv.User[PIE]
			}
			return u
		},
		flags: always("-pie"),
	},
	{p: RELRO, side: linkSide, applies: notBare, flags: always("-Wl,-z,relro")},
	{p: Now, side: linkSide, applies: notBare, flags: always("-Wl,-z,now")},
	{p: NoExecStack, side: linkSide, flags: always("-Wl,-z,noexecstack")},
	{
		// The guard runtime's archive comes from guardlib (Plan.Runtime).
		p: Runtime, side: linkSide, applies: notBare,
		user:  func(*decideCtx) Choice { return Choice{} },
		flags: func(c *decideCtx) []string { return UserUBSanLinkFlags(c.inv, c.caps) },
		after: func(c *decideCtx, _ *Record, added bool) { c.plan.Runtime = added },
	},
	{
		p: Bounds, side: compileSide, userFirst: true,
		applies:     func(c *decideCtx, _ *Record) (bool, string) { return c.boundsWhy == "", c.boundsWhy },
		unsupported: notAccepted(func(c Caps) bool { return c.Kind == "gcc" || c.Kind == "clang" }, "compiler is neither gcc nor clang"),
		flags:       func(c *decideCtx) []string { return boundsFlags(c.caps) },
		after: func(c *decideCtx, _ *Record, added bool) {
			if added && c.caps.Kind == "gcc" && c.inv.Mode == ModeLink && c.inv.Link != LinkReloc {
				c.plan.NoUBSan = true
			}
		},
	},
	{
		// Object-size checks (clang), through the same runtime.
		p: ObjSize, side: compileSide, userFirst: true,
		applies: func(c *decideCtx, _ *Record) (bool, string) {
			why := c.boundsWhy
			if why == "" && !c.inv.Optimize {
				why = "not optimising: the object-size checks need -O1 or more"
			}
			return why == "" && c.caps.Kind == "clang", why
		},
		flags: always("-fsanitize=object-size", "-fno-sanitize-recover=object-size", "-fno-sanitize-link-runtime"),
	},
	{
		p: AutoInit, side: compileSide, userFirst: true,
		unsupported: notAccepted(func(c Caps) bool {
			return c.Kind == "gcc" && versionAtLeast(c.Version, 12) || clangMajor(c) >= 8
		}, "compiler has no -ftrivial-auto-var-init=zero"),
		flags: func(c *decideCtx) []string { return autoInitFlags(c.caps) },
	},
	{
		// libstdc++ assertions: C++ only, a macro.
		p: CXXAssert, side: compileSide, userFirst: true,
		applies: unless(func(c *decideCtx) bool { return !c.cxx || !c.ppFam || c.libcLess }, ""),
		flags:   always("-D_GLIBCXX_ASSERTIONS"),
	},
	{
		p: ZeroRegs, side: compileSide, userFirst: true,
		applies: unless(func(c *decideCtx) bool { return !c.caps.X86 }, ""),
		unsupported: notAccepted(func(c Caps) bool {
			return c.Kind == "gcc" && versionAtLeast(c.Version, 11) || clangMajor(c) >= 15
		}, "compiler has no -fzero-call-used-regs"),
		flags: always("-fzero-call-used-regs=used-gpr"),
	},
}

// notBare: the link-side protections that need the default startup files
// and libc. One note names them all (Decide).
var notBare = unless(func(c *decideCtx) bool { return c.bare }, "")

// compilePIEChoice is the user's word on compile-side PIE: a -no-pie link
// flag in the same command also turns off -fPIE.
func compilePIEChoice(c *decideCtx) Choice {
	u := c.inv.User[PIE]
	if !u.Set && c.inv.LinkPIE.Set && !c.inv.LinkPIE.On {
		u = c.inv.LinkPIE
	}
	return u
}

// fortifyLevel is the _FORTIFY_SOURCE level immunix adds.
func fortifyLevel(caps Caps) int {
	if caps.Fortify3 {
		return 3
	}
	return 2
}
