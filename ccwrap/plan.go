package ccwrap

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
)

// Caps is what a compiler accepts, found once by Probe and cached.
type Caps struct {
	Kind       string // "gcc", "clang" or "unknown"
	Version    string // e.g. "12.2.0"
	X86        bool   // the target is x86 (for -fcf-protection)
	Canary     bool   // accepts -fstack-protector-strong
	StackClash bool   // accepts -fstack-clash-protection
	CET        bool   // accepts -fcf-protection=full (x86 only)
	Fortify3   bool   // the compiler and libc give _FORTIFY_SOURCE=3
	DefaultPIE bool   // the compiler builds PIE by default
}

// Record is what one step (compile or link) did about each protection.
type Record struct {
	On      []Protection          // in force: added by immunix or given by the user
	Off     []Protection          // turned off by policy
	UserOff []Protection          // turned off (or weakened) by the user's flags
	Failed  []Protection          // asked for, but could not be applied (Remove)
	Flags   map[Protection]string // the user flag behind each UserOff entry
	Fortify int                   // the FORTIFY level in force
	Notes   []string              // why a protection was not applied (for the log and explain)
}

func (r *Record) on(p Protection)         { r.On = append(r.On, p) }
func (r *Record) note(f string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(f, a...)) }
func (r *Record) userOff(p Protection, flag string) {
	r.UserOff = append(r.UserOff, p)
	if r.Flags == nil {
		r.Flags = map[Protection]string{}
	}
	r.Flags[p] = flag
}

// Remove takes p out of r.On, records it as failed (the stamp says
// failed=p) and notes why (a fail-open asset).
func (r *Record) Remove(p Protection, why string) {
	r.Failed = append(r.Failed, p)
	out := r.On[:0]
	for _, q := range r.On {
		if q != p {
			out = append(out, q)
		}
	}
	r.On = out
	r.note("%s: %s", p, why)
}

// Has reports whether p is in force.
func (r *Record) Has(p Protection) bool {
	for _, q := range r.On {
		if q == p {
			return true
		}
	}
	return false
}

// Stamp returns the note this record becomes.
func (r *Record) Stamp(typ int) stamp.Stamp {
	return stamp.Stamp{
		Type:    typ,
		Version: version.Version,
		On:      protectionStrings(sortProtections(r.On)),
		Off:     protectionStrings(sortProtections(r.Off)),
		UserOff: protectionStrings(sortProtections(r.UserOff)),
		Failed:  protectionStrings(sortProtections(r.Failed)),
		Fortify: r.Fortify,
	}
}

// Plan is the decision for one invocation: the flags to add and the record
// of what they mean. Decide makes it without side effects.
type Plan struct {
	Inv          Invocation
	Compile      bool // compile-side protections apply
	Link         bool // link-side protections apply
	CompileFlags []string
	LinkFlags    []string
	CompileRec   Record
	LinkRec      Record
	// StampC: a compile note via the stamp header for C-family sources;
	// StampAsm: for .S sources. LinkNote: a link note object.
	StampC, StampAsm, LinkNote bool
	// FormatGuard and Runtime: the assets to ask guardlib for.
	FormatGuard, Runtime bool
	// NoUBSan: this gcc link carries immunix's -fsanitize=bounds, so the
	// driver's -lubsan must find the empty one (bounds.go).
	NoUBSan bool
	// Unstamped says why a compile produces no note (.s input, -E...).
	Unstamped string
}

// Decide chooses the protections for inv under policy pol with a compiler
// that has caps. It does not look at the file system.
func Decide(inv Invocation, pol Policy, caps Caps) Plan {
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
	c := newDecideCtx(inv, pol, caps, &p, ppFam)

	if cFam {
		p.Compile = true
		p.CompileFlags = c.side(compileSide, &p.CompileRec)
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
		if c.bare {
			// One note for the link rules that notBare skips.
			p.LinkRec.note("pie, relro, now, runtime: -nostdlib, -nostartfiles, -ffreestanding or a linker script")
		}
		p.LinkFlags = c.side(linkSide, &p.LinkRec)
		p.LinkNote = !inv.Script
	}
	return p
}

// newDecideCtx derives, once, the facts the rules look at.
func newDecideCtx(inv Invocation, pol Policy, caps Caps, p *Plan, ppFam bool) *decideCtx {
	c := &decideCtx{
		inv: inv, pol: pol, caps: caps, plan: p,
		ppFam:    ppFam,
		libcLess: inv.Free || (inv.NoStdlib && inv.Mode == ModeLink),
		bare:     inv.NoStdlib || inv.NoStart || inv.Free || inv.Script,
		bareLink: inv.Mode == ModeLink && (inv.NoStdlib || inv.NoStart || inv.Script),
	}
	for _, in := range inv.Inputs {
		c.cxx = c.cxx || strings.Contains(string(in.Lang), "c++")
	}
	c.boundsWhy = boundsWhy(c)
	return c
}

// Assets are the file-system facts Rewrite needs: what guardlib returned
// and where the stamp header and link note object are.
type Assets struct {
	FormatGuardArgs []string
	RuntimeArgs     []string
	StampHeader     string // path of immunix-stamp.h, "" for none
	LinkNote        string // path of the link note object, "" for none
	// Extra are compile-note fields beyond the record (fg=retried).
	Extra map[string]string
}

// StampDefines returns the -D options that carry the compile notes' text.
func (p *Plan) StampDefines(extra map[string]string) []string {
	var out []string
	if p.StampC {
		s := p.CompileRec.Stamp(stamp.Compile)
		s.Extra = extra
		out = append(out, `-D__IMMUNIX_STAMP="`+s.String()+`"`)
	}
	if p.StampAsm {
		s := stamp.Stamp{Type: stamp.Compile, Version: version.Version, Lang: "asm"}
		out = append(out, `-D__IMMUNIX_STAMP_ASM="`+s.String()+`"`)
	}
	return out
}

// Rewrite builds the final command: the compiler command, immunix's flags,
// IMMUNIX_FLAGS, the user's arguments unchanged (@files stay @files), then
// the stamp header, the link note object and the guard runtime.
func Rewrite(p *Plan, compiler, extra, user []string, a Assets) []string {
	if p.Inv.Reason != NoReason {
		return append(append([]string{}, compiler...), user...)
	}
	out := make([]string, 0, len(compiler)+len(p.CompileFlags)+len(p.LinkFlags)+len(extra)+len(user)+12)
	out = append(out, compiler...)
	out = append(out, p.CompileFlags...)
	out = append(out, p.LinkFlags...)
	out = append(out, a.FormatGuardArgs...)
	if a.StampHeader != "" {
		out = append(out, p.StampDefines(a.Extra)...)
	}
	out = append(out, extra...)
	out = append(out, user...)
	if a.StampHeader != "" && (p.StampC || p.StampAsm) {
		// Last, so a user's "-include pch.h" stays the first include.
		// Found through -idirafter, the header is a system header: -MMD
		// leaves it out of dependency files, and it shadows nothing.
		out = append(out, "-idirafter", filepath.Dir(a.StampHeader), "-include", filepath.Base(a.StampHeader))
	}
	var files []string
	if a.LinkNote != "" && p.LinkNote {
		files = append(files, a.LinkNote)
	}
	files = append(files, a.RuntimeArgs...)
	if len(files) > 0 && p.Inv.TrailingLang != "" && hasFile(files) {
		out = append(out, "-x", "none")
	}
	return append(out, files...)
}

func hasFile(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}
