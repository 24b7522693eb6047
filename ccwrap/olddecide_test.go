package ccwrap

// Temporary: the Decide before the rule table, to compare against.

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Decide chooses the protections for inv under policy pol with a compiler
// that has caps. It does not look at the file system.
func oldDecide(inv Invocation, pol Policy, caps Caps) Plan {
	p := Plan{Inv: inv}
	if inv.Reason != NoReason {
		return p
	}
	var cFam, ppFam, asmCPP, asmOnlyNoCPP, headerOnly bool
	headerOnly = true
	for _, in := range inv.Inputs {
		switch family(in.Lang) {
		case famC:
			cFam, ppFam = true, true
			headerOnly = headerOnly && isHeader(in.Lang)
		case famCPPOut:
			cFam = true
			headerOnly = false
		case famAsmCPP:
			asmCPP = true
		case famAsm:
			asmOnlyNoCPP = true
		}
	}
	if !cFam {
		headerOnly = false
	}
	linking := inv.Mode == ModeLink && inv.Link != LinkReloc
	libcLess := inv.Free || (inv.NoStdlib && inv.Mode == ModeLink)
	bare := inv.NoStdlib || inv.NoStart || inv.Free || inv.Script

	r := &p.CompileRec
	// consider applies the common rule: the user's word first, then the
	// policy, then what the compiler accepts.
	consider := func(rec *Record, x Protection, user Choice, supported bool, unsupported string, flags ...string) []string {
		switch {
		case user.Set && user.On:
			rec.on(x)
		case user.Set:
			rec.userOff(x, user.Flag)
		case !pol.Enabled(x):
			rec.Off = append(rec.Off, x)
		case !supported:
			rec.note("%s: %s", x, unsupported)
		default:
			rec.on(x)
			return flags
		}
		return nil
	}

	if cFam {
		p.Compile = true
		var f []string
		if !libcLess {
			f = append(f, consider(r, Canary, inv.User[Canary], caps.Canary, "compiler does not accept -fstack-protector-strong", "-fstack-protector-strong")...)
		} else {
			r.note("canary: freestanding or libc-less code has no __stack_chk_fail")
		}
		if c := inv.Clash[StackClash]; c != "" && !inv.User[StackClash].Set {
			r.note("stackclash: the user's %s excludes -fstack-clash-protection", c)
		} else {
			f = append(f, consider(r, StackClash, inv.User[StackClash], caps.StackClash, "compiler does not accept -fstack-clash-protection", "-fstack-clash-protection")...)
		}
		if c := inv.Clash[CET]; caps.X86 && c != "" && !inv.User[CET].Set {
			r.note("cet: the user's %s excludes -fcf-protection", c)
		} else if caps.X86 {
			f = append(f, consider(r, CET, inv.User[CET], caps.CET, "compiler does not accept -fcf-protection=full", "-fcf-protection=full")...)
		}
		// FORTIFY is a preprocessor macro: it means nothing for
		// already-preprocessed input and needs optimisation and libc.
		switch {
		case !ppFam:
			r.note("fortify: input already preprocessed")
		case libcLess:
			r.note("fortify: freestanding or libc-less code has no __*_chk functions")
		case !inv.Optimize && inv.User[Fortify].Set && inv.User[Fortify].On:
			r.note("fortify: %s without optimisation has no effect", inv.User[Fortify].Flag)
		case !inv.Optimize:
			r.note("fortify: not optimising (glibc needs -O1 or more)")
			if u := inv.User[Fortify]; u.Set {
				r.userOff(Fortify, u.Flag)
			}
		default:
			level := 2
			if caps.Fortify3 {
				level = 3
			}
			u := inv.User[Fortify]
			added := consider(r, Fortify, u, true, "", "-U_FORTIFY_SOURCE", fmt.Sprintf("-D_FORTIFY_SOURCE=%d", level))
			f = append(f, added...)
			if added != nil && inv.Werror {
				// glibc marks read(), write(), fgets()... warn_unused_result
				// only under FORTIFY: new warnings must not fail a -Werror build.
				f = append(f, "-Wno-error=unused-result")
			}
			switch {
			case u.Set:
				// glibc grants at most the level it supports.
				r.Fortify = min(u.Level, level)
			case r.Has(Fortify):
				r.Fortify = level
			}
		}
		// -Wformat-security needs -Wformat: add whichever part is missing.
		fs := inv.User[FormatSec]
		switch {
		case inv.FormatBase.Set && !inv.FormatBase.On:
			r.userOff(FormatSec, inv.FormatBase.Flag)
		case fs.Set && !fs.On:
			r.userOff(FormatSec, fs.Flag)
		case !pol.Enabled(FormatSec) && !(fs.Set && inv.FormatBase.Set):
			r.Off = append(r.Off, FormatSec)
		default:
			r.on(FormatSec)
			// The warnings immunix adds stay warnings under the user's
			// -Werror: a hardening wrapper must not fail a build that the
			// plain compiler passes.
			if !inv.FormatBase.Set {
				f = append(f, "-Wformat")
				if inv.Werror {
					f = append(f, "-Wno-error=format")
				}
			}
			if !fs.Set {
				f = append(f, "-Wformat-security")
				if inv.Werror {
					f = append(f, "-Wno-error=format-security")
				}
			}
		}
		switch {
		case !ppFam || libcLess:
		case inv.NoStdInc:
			// The wrappers #include_next the libc headers, which
			// -nostdinc takes off the search path.
			r.note("formatguard: -nostdinc: no libc headers to wrap")
		default:
			if consider(r, FormatGuard, Choice{}, true, "", "x") != nil {
				p.FormatGuard = true
			}
		}
		// -fPIE for code that may end in an executable; a shared or
		// static link in the same command needs none, -fPIC stays.
		user := inv.User[PIE]
		if !user.Set && inv.LinkPIE.Set && !inv.LinkPIE.On {
			user = inv.LinkPIE
		}
		switch {
		case inv.Free:
			r.note("pie: freestanding code")
		case inv.Mode == ModeLink && (inv.Link == LinkShared || inv.Link == LinkStatic) && !user.Set:
			r.note("pie: -fPIE does not belong in a %s link", inv.Link)
		default:
			f = append(f, consider(r, PIE, user, true, "", "-fPIE")...)
		}
		f = append(f, oldDecideLevel(&p, r, inv, pol, caps, ppFam, libcLess)...)
		p.CompileFlags = f
	}

	switch inv.Mode {
	case ModeCompile, ModeAsm, ModeLink:
		switch {
		case inv.Free:
			p.Unstamped = "freestanding code (a note could land in a raw image)"
		case headerOnly:
			p.Unstamped = "precompiled header"
		default:
			p.StampC = ppFam
			p.StampAsm = asmCPP
			if !ppFam && !asmCPP && (cFam || asmOnlyNoCPP) {
				p.Unstamped = "preprocessed or .s input has no preprocessor to take the stamp header"
			}
		}
	default:
		if cFam || asmCPP {
			p.Unstamped = "no object is produced in " + inv.Mode.String() + " mode"
		}
	}

	if linking {
		p.Link = true
		lr := &p.LinkRec
		var f []string
		switch {
		case bare:
			lr.note("pie, relro, now, runtime: -nostdlib, -nostartfiles, -ffreestanding or a linker script")
		default:
			switch inv.Link {
			case LinkExe:
				user := inv.LinkPIE
				if !user.Set && inv.User[PIE].Set && !inv.User[PIE].On {
					user = inv.User[PIE]
				}
				f = append(f, consider(lr, PIE, user, true, "", "-pie")...)
			case LinkStaticPIE:
				lr.on(PIE)
			}
			f = append(f, consider(lr, RELRO, inv.User[RELRO], true, "", "-Wl,-z,relro")...)
			f = append(f, consider(lr, Now, inv.User[Now], true, "", "-Wl,-z,now")...)
		}
		f = append(f, consider(lr, NoExecStack, inv.User[NoExecStack], true, "", "-Wl,-z,noexecstack")...)
		if !bare && consider(lr, Runtime, Choice{}, true, "", "x") != nil {
			p.Runtime = true
			f = append(f, UserUBSanLinkFlags(inv, caps)...)
		}
		p.LinkFlags = f
		p.LinkNote = !inv.Script
	}
	return p
}

// decideLevel decides the protections of this file for one compile: the
// user's word first, then the policy (IMMUNIX_DISABLE and the level), then
// what the compiler can do. It returns the flags to add. Protections above
// the policy's level are neither added nor recorded as off: "off" means
// turned off by IMMUNIX_DISABLE.
func oldDecideLevel(p *Plan, r *Record, inv Invocation, pol Policy, caps Caps, ppFam, libcLess bool) []string {
	var f []string
	cxx := false
	for _, in := range inv.Inputs {
		cxx = cxx || strings.Contains(string(in.Lang), "c++")
	}
	// A link in this same command that has no guard runtime (-nostdlib,
	// -nostartfiles, a linker script) could not resolve the handlers.
	bare := inv.Mode == ModeLink && (inv.NoStdlib || inv.NoStart || inv.Script)
	known := caps.Kind == "gcc" || caps.Kind == "clang"
	decide := func(x Protection, applies bool, why string, supported bool, unsupported string, flags ...string) {
		u := inv.User[x]
		switch {
		case u.Set && u.On:
			r.on(x)
		case u.Set:
			r.userOff(x, u.Flag)
		case pol.Level < ProtectionLevel[x]:
		case !applies:
			if why != "" {
				r.note("%s: %s", x, why)
			}
		case !pol.Enabled(x):
			r.Off = append(r.Off, x)
		case !supported:
			r.note("%s: %s", x, unsupported)
		default:
			r.on(x)
			f = append(f, flags...)
		}
	}

	// BoundsGuard.
	var other string
	for _, s := range inv.Sanitizers {
		if !coversBounds(s) && other == "" {
			other = "-fsanitize=" + s
		}
	}
	boundsWhy := ""
	switch {
	case libcLess || bare:
		boundsWhy = "freestanding, libc-less or bare link: no guard runtime for the bounds handlers"
	case other != "":
		boundsWhy = "the user's " + other + " brings its own runtime: it stays in charge"
	}
	var bflags []string
	switch caps.Kind {
	case "gcc":
		bflags = []string{"-fsanitize=bounds", "-fno-sanitize-recover=bounds"}
	case "clang":
		bflags = []string{"-fsanitize=array-bounds", "-fno-sanitize-recover=array-bounds", "-fno-sanitize-link-runtime"}
	}
	n := len(f)
	decide(Bounds, boundsWhy == "", boundsWhy, known, "compiler is neither gcc nor clang", bflags...)
	if len(f) > n && caps.Kind == "gcc" && inv.Mode == ModeLink && inv.Link != LinkReloc {
		p.NoUBSan = true
	}

	// Object-size checks (clang), through the same runtime.
	objWhy := boundsWhy
	if objWhy == "" && !inv.Optimize {
		objWhy = "not optimising: the object-size checks need -O1 or more"
	}
	decide(ObjSize, objWhy == "" && caps.Kind == "clang", objWhy, true, "",
		"-fsanitize=object-size", "-fno-sanitize-recover=object-size", "-fno-sanitize-link-runtime")

	// Zero-initialised automatic variables.
	ai := []string{"-ftrivial-auto-var-init=zero"}
	if m := clangMajor(caps); m > 0 && m < 16 {
		ai = append(ai, "-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang")
	}
	decide(AutoInit, true, "", caps.Kind == "gcc" && versionAtLeast(caps.Version, 12) || clangMajor(caps) >= 8,
		"compiler has no -ftrivial-auto-var-init=zero", ai...)

	// libstdc++ assertions: C++ only, a macro.
	decide(CXXAssert, cxx && ppFam && !libcLess, "", true, "", "-D_GLIBCXX_ASSERTIONS")

	// Call-used registers zeroed on return.
	decide(ZeroRegs, caps.X86, "", caps.Kind == "gcc" && versionAtLeast(caps.Version, 11) || clangMajor(caps) >= 15,
		"compiler has no -fzero-call-used-regs", "-fzero-call-used-regs=used-gpr")
	return dedupFlags(f)
}

func dedupFlags(f []string) []string {
	var out []string
	for _, x := range f {
		if !containsString(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestDecideMatchesOld compares the table with the old Decide on random
// command lines built from the flags each rule looks at.
func TestDecideMatchesOld(t *testing.T) {
	frags := []string{
		"-c", "-S", "-E", "-O2", "-O0", "-Og", "-Werror", "-Wno-error", "-shared", "-static", "-static-pie", "-r", "-pie", "-no-pie",
		"-fPIE", "-fPIC", "-fno-pie", "-nostdlib", "-nostartfiles", "-ffreestanding", "-nostdinc", "-T", "s.ld",
		"-fstack-protector-strong", "-fno-stack-protector", "-fstack-protector", "-fstack-clash-protection", "-fno-stack-clash-protection",
		"-fstack-check", "-mindirect-branch=thunk", "-fcf-protection=full", "-fcf-protection=none",
		"-D_FORTIFY_SOURCE=1", "-D_FORTIFY_SOURCE=3", "-U_FORTIFY_SOURCE", "-Wp,-D_FORTIFY_SOURCE=2",
		"-Wformat", "-Wno-format", "-Wall", "-Wformat-security", "-Wno-format-security",
		"-Wl,-z,norelro", "-Wl,-z,relro", "-Wl,-z,lazy", "-Wl,-z,now", "-Wl,-z,execstack", "-Wl,-z,noexecstack",
		"-fsanitize=undefined", "-fsanitize=address", "-fsanitize=bounds", "-fno-sanitize=all", "-fsanitize=object-size",
		"-ftrivial-auto-var-init=zero", "-ftrivial-auto-var-init=uninitialized", "-fzero-call-used-regs=skip", "-fzero-call-used-regs=all",
		"-D_GLIBCXX_ASSERTIONS", "-U_GLIBCXX_ASSERTIONS",
		"a.c", "b.cc", "c.i", "d.ii", "e.S", "f.s", "g.o", "h.h", "-x", "c++", "c", "-", "-o", "out",
	}
	caps := []Caps{flavours[0].caps, flavours[1].caps, otherCaps["old"], otherCaps["aarch64"],
		{Kind: "unknown"}, {Kind: "clang", Version: "16.0.0", X86: true, Canary: true}, {Kind: "gcc", Version: "10.2.0"}}
	var pols []Policy
	for _, l := range []Level{LevelDefault, LevelMax} {
		pols = append(pols, Policy{Level: l})
		for _, p := range Protections {
			pols = append(pols, Policy{Level: l, Disabled: map[Protection]bool{p: true}})
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := 0; i < 20000; i++ {
		var args []string
		for k := rnd.IntN(8) + 1; k > 0; k-- {
			args = append(args, frags[rnd.IntN(len(frags))])
		}
		inv, err := Parse(args, func(string) ([]byte, error) { return nil, nil })
		if err != nil {
			continue
		}
		for _, c := range caps {
			pol := pols[rnd.IntN(len(pols))]
			got, want := Decide(inv, pol, c), oldDecide(inv, pol, c)
			n++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q %+v %+v:\n got %+v\nwant %+v", args, pol, c, got, want)
			}
		}
	}
	t.Logf("%d decisions compared", n)
}
