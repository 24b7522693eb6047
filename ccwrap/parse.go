package ccwrap

import (
	"path/filepath"
	"strings"
)

// Mode is what a compiler invocation produces.
type Mode int

// Modes, from the earliest stop to the full link.
const (
	ModeLink       Mode = iota // compile (if needed) and link
	ModeCompile                // -c: objects
	ModeAsm                    // -S: assembler text
	ModeSyntaxOnly             // -fsyntax-only
	ModePreprocess             // -E
	ModeDeps                   // -M or -MM alone: dependency rules only
	ModeQuery                  // --version, -print-*, -###...: nothing is built
)

var modeNames = [...]string{"link", "compile", "asm", "syntax-only", "preprocess", "deps", "query"}

func (m Mode) String() string { return modeNames[m] }

// LinkKind is what a link produces.
type LinkKind int

// Link kinds.
const (
	LinkExe       LinkKind = iota // executable, PIE unless the user says otherwise
	LinkShared                    // -shared
	LinkStatic                    // -static
	LinkStaticPIE                 // -static-pie
	LinkReloc                     // -r: a relocatable object
)

var linkNames = [...]string{"exe", "shared", "static", "static-pie", "relocatable"}

func (k LinkKind) String() string { return linkNames[k] }

// Reason says why an invocation is passed to the compiler untouched.
type Reason int

// Pass-through reasons.
const (
	NoReason         Reason = iota
	ReasonQuery             // a query mode: --version, -dumpmachine, -print-*, -###, --help, -v alone
	ReasonNoInput           // nothing to compile or link: the compiler reports it
	ReasonLanguage          // an input language immunix does not harden (Fortran, Ada, LLVM IR...)
	ReasonStdinLang         // "-" without -x outside -E: the compiler reports it
	ReasonMissingArg        // an option lacks its operand: the compiler reports it
	ReasonKernel            // kernel-style code (-mcmodel=kernel, -D__KERNEL__)
	ReasonReentry           // immunix-cc called back through ccache/distcc/a wrapper: already rewritten
	ReasonDisabled          // IMMUNIX_DISABLE=all: nothing to add
)

var reasonNames = [...]string{"", "query", "no-input", "unsupported-language", "stdin-needs-x", "missing-operand", "kernel", "reentry", "all-disabled"}

func (r Reason) String() string { return reasonNames[r] }

// Lang is an input's language, in gcc's -x spelling; "" means a linker input.
type Lang string

// Input is one file the compiler reads.
type Input struct {
	Name string // "-" is standard input
	Lang Lang
}

// Invocation is a parsed compiler command line. It is a plain value: Parse
// builds it without side effects, Decide and Rewrite read it.
type Invocation struct {
	Mode   Mode
	Reason Reason // non-zero: run the compiler untouched
	// Detail names the argument behind Reason (the option, the language).
	Detail string

	Link     LinkKind
	NoStdlib bool // -nostdlib, -nodefaultlibs, -nolibc: no libc at link
	NoStart  bool // -nostartfiles: no crt files
	Script   bool // -T: a linker script
	Free     bool // -ffreestanding / -fno-hosted
	NoStdInc bool // -nostdinc: the libc headers are not searched
	Kernel   string

	Inputs []Input
	Output string
	// TrailingLang is the -x in force after the last argument ("" or
	// "none": suffixes decide), so files appended later need "-x none".
	TrailingLang string

	// ABIFlags are the flags that change the target ABI, as written.
	ABIFlags []string
	Optimize bool   // the last -O level is not 0
	OptFlag  string // that -O flag
	Color    bool   // the user chose -f[no-]diagnostics-color
	Werror   bool   // the last of -Werror / -Wno-error was -Werror
	// Clash names a user flag that a protection cannot be combined with
	// (gcc rejects -fcf-protection with -mindirect-branch=thunk, and drops
	// -fstack-check with a warning next to -fstack-clash-protection):
	// clashChoice in security.go.
	Clash map[Protection]string

	// User holds the user's last word on each protection. PIE keeps the
	// compile side (-fPIE, -fPIC, -fno-pie...) and LinkPIE the link side
	// (-pie, -no-pie, -static-pie).
	User       map[Protection]Choice
	LinkPIE    Choice
	FormatBase Choice // -Wformat itself (-Wall, -Wformat, -Wno-format)
	PIC        bool   // the last compile-side PIE choice was -fPIC/-fpic
	// Sanitizers are the -fsanitize= checks the user's flags leave in
	// force, in the order first named (bounds.go).
	Sanitizers []string
}

// HasSource reports whether an input is compiled (not a linker input).
func (inv *Invocation) HasSource() bool {
	for _, in := range inv.Inputs {
		if in.Lang != "" {
			return true
		}
	}
	return false
}

// langFamily groups languages by what immunix can add for them.
type langFamily int

const (
	famLinker langFamily = iota // object, archive, shared library
	famC                        // C, C++, Objective-C(++) source or header
	famCPPOut                   // already preprocessed C family
	famAsm                      // .s: assembler, no preprocessor
	famAsmCPP                   // .S: assembler through the preprocessor
	famOther                    // a language immunix does not harden
)

func family(l Lang) langFamily {
	switch l {
	case "":
		return famLinker
	case "c", "c++", "objective-c", "objective-c++", "c-header", "c++-header",
		"objective-c-header", "objective-c++-header", "c++-system-header", "c++-user-header":
		return famC
	case "cpp-output", "c++-cpp-output", "objective-c-cpp-output", "objc-cpp-output", "objective-c++-cpp-output":
		return famCPPOut
	case "assembler":
		return famAsm
	case "assembler-with-cpp":
		return famAsmCPP
	}
	return famOther
}

func isHeader(l Lang) bool { return strings.HasSuffix(string(l), "-header") }

// langBySuffix is gcc's table of file suffixes ("Options Controlling the
// Kind of Output"); names not in it are linker inputs.
var langBySuffix = map[string]Lang{
	".c": "c", ".i": "cpp-output", ".ii": "c++-cpp-output",
	".cc": "c++", ".cp": "c++", ".cxx": "c++", ".cpp": "c++", ".CPP": "c++", ".c++": "c++", ".C": "c++",
	".m": "objective-c", ".mi": "objective-c-cpp-output", ".mm": "objective-c++", ".M": "objective-c++", ".mii": "objective-c++-cpp-output",
	".h": "c-header", ".hh": "c++-header", ".H": "c++-header", ".hp": "c++-header", ".hxx": "c++-header",
	".hpp": "c++-header", ".HPP": "c++-header", ".h++": "c++-header", ".tcc": "c++-header",
	".s": "assembler", ".S": "assembler-with-cpp", ".sx": "assembler-with-cpp",
	".f": "f77", ".for": "f77", ".ftn": "f77", ".F": "f77-cpp-input", ".FOR": "f77-cpp-input", ".fpp": "f77-cpp-input",
	".FPP": "f77-cpp-input", ".FTN": "f77-cpp-input", ".f90": "f95", ".f95": "f95", ".f03": "f95", ".f08": "f95",
	".F90": "f95-cpp-input", ".F95": "f95-cpp-input", ".F03": "f95-cpp-input", ".F08": "f95-cpp-input",
	".go": "go", ".d": "d", ".di": "d", ".dd": "d", ".ads": "ada", ".adb": "ada", ".m2": "modula-2", ".rs": "rust",
	".cu": "cuda", ".hip": "hip", ".cl": "cl", ".ll": "ir", ".bc": "ir",
}

// Parse classifies a compiler command line (without argv[0]). It expands
// @files through readFile and does nothing else: no file is stat'ed, no
// program run. An error means an @file could not be read (ErrResponseFile).
func Parse(args []string, readFile func(string) ([]byte, error)) (Invocation, error) {
	a, err := ExpandResponseFiles(args, readFile)
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{User: map[Protection]Choice{}}
	var (
		stopE, stopS, stopC, syntax, depsOnly bool
		query, verbose                        bool
		lang                                  string
		linker                                []string
		stdinNoLang                           bool
	)
	setUser := func(p Protection, on bool, flag string) {
		inv.User[p] = Choice{Set: true, On: on, Flag: flag}
	}
	preprocessorArg := func(pa []string) {
		for i := 0; i < len(pa); i++ {
			x := pa[i]
			var def string
			undef := false
			switch {
			case x == "-D" || x == "-U":
				if i+1 >= len(pa) {
					continue
				}
				undef = x == "-U"
				i++
				def = pa[i]
			case strings.HasPrefix(x, "-D"):
				def = x[2:]
			case strings.HasPrefix(x, "-U"):
				def, undef = x[2:], true
			default:
				continue
			}
			if p, c, ok := macroChoice(def, undef); ok {
				inv.User[p] = c
			}
			if !undef && (def == "__KERNEL__" || strings.HasPrefix(def, "__KERNEL__=")) {
				inv.Kernel = "-D" + def
			}
		}
	}
	for i := 0; i < len(a); i++ {
		arg := a[i]
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			in := Input{Name: arg}
			switch {
			case lang != "" && lang != "none":
				in.Lang = Lang(lang)
			case arg == "-":
				stdinNoLang = true
				in.Lang = "c" // gcc -E reads stdin as C
			default:
				in.Lang = langBySuffix[filepath.Ext(arg)]
			}
			inv.Inputs = append(inv.Inputs, in)
			continue
		}
		name, val := arg, ""
		if opt, joined, isJoined, ok := lookupOption(arg); ok {
			name = opt.canonical()
			switch {
			case isJoined:
				val = joined
			case opt.flags&takesArg != 0:
				if i+1 >= len(a) {
					inv.Reason, inv.Detail = ReasonMissingArg, arg
					return inv, nil
				}
				i++
				val = a[i]
			}
		}
		switch name {
		case "-o":
			inv.Output = val
		case "-x":
			lang = val
		case "-c":
			stopC = true
		case "-S":
			stopS = true
		case "-E":
			stopE = true
		case "-M", "-MM":
			depsOnly = true
		case "-fsyntax-only":
			syntax = true
		case "-D", "-U":
			preprocessorArg([]string{name, val})
		case "-Wp,":
			preprocessorArg(strings.Split(val, ","))
		case "-Xpreprocessor":
			preprocessorArg([]string{val})
		case "-Wl,":
			linker = append(linker, strings.Split(val, ",")...)
		case "-Xlinker":
			linker = append(linker, val)
		case "-z":
			linker = append(linker, "-z", val)
		case "-T":
			inv.Script = true
		case "-target", "--sysroot":
			if arg == name {
				inv.ABIFlags = append(inv.ABIFlags, arg, val)
			} else {
				inv.ABIFlags = append(inv.ABIFlags, arg)
			}
		case "-shared", "-static", "-static-pie", "-r":
			// Precedence as in gcc's specs: -r, then -shared, then -static-pie/-static.
			k := map[string]LinkKind{"-shared": LinkShared, "-static": LinkStatic, "-static-pie": LinkStaticPIE, "-r": LinkReloc}[name]
			if k == LinkReloc || inv.Link == LinkExe || (k == LinkShared && inv.Link != LinkReloc) {
				inv.Link = k
			}
		case "-nostdlib", "-nodefaultlibs", "-nolibc":
			inv.NoStdlib = true
		case "-nostartfiles":
			inv.NoStart = true
		case "-ffreestanding", "-fno-hosted":
			inv.Free = true
		case "-nostdinc":
			inv.NoStdInc = true
		case "-fhosted":
			inv.Free = false
		case "-mcmodel=kernel", "-mkernel", "-fkernel":
			inv.Kernel = arg
		case "-m32", "-m64", "-mx32", "-m16", "-mbig-endian", "-mlittle-endian", "-mabi":
			inv.ABIFlags = append(inv.ABIFlags, arg)
		case "--version", "-dumpversion", "-dumpfullversion", "-dumpmachine", "-dumpspecs", "-###",
			"--help", "--target-help", "-print-targets", "--print-targets", "-qversion":
			query = true
		case "-v", "--verbose":
			verbose = true
		case "-fdiagnostics-color", "-fno-diagnostics-color", "-fcolor-diagnostics", "-fno-color-diagnostics":
			inv.Color = true
		case "-Werror", "-Wno-error":
			inv.Werror = name == "-Werror"
		default:
			switch {
			case clashChoice(arg) != "":
				setClash(&inv, clashChoice(arg), arg)
			case strings.HasPrefix(arg, "-print-") || strings.HasPrefix(arg, "--print-") ||
				strings.HasPrefix(arg, "--help=") || strings.HasPrefix(arg, "--autocomplete="):
				query = true
			case strings.HasPrefix(arg, "-O"):
				inv.OptFlag = arg
				inv.Optimize = arg != "-O0"
			case strings.HasPrefix(arg, "-mabi=") || strings.HasPrefix(arg, "--target="):
				inv.ABIFlags = append(inv.ABIFlags, arg)
			case strings.HasPrefix(arg, "-fdiagnostics-color="):
				inv.Color = true
			}
		}
		if p, on, ok := compilerFlagChoice(arg); ok {
			c := Choice{Set: true, On: on, Flag: arg}
			switch {
			case p == PIE && !strings.HasPrefix(arg, "-f"):
				inv.LinkPIE = c
			case p == PIE:
				inv.User[PIE] = c
				inv.PIC = on && strings.EqualFold(arg, "-fpic")
			default:
				inv.User[p] = c
			}
		}
		extraFlagChoice(&inv, arg)
		if on, ok := formatBaseChoice(arg); ok {
			inv.FormatBase = Choice{Set: true, On: on, Flag: arg}
		}
	}
	linkerChoices(linker, setUser)
	inv.TrailingLang = lang
	if lang == "none" {
		inv.TrailingLang = ""
	}

	switch {
	case stopE:
		inv.Mode = ModePreprocess
	case depsOnly:
		inv.Mode = ModeDeps
	case syntax:
		inv.Mode = ModeSyntaxOnly
	case stopS:
		inv.Mode = ModeAsm
	case stopC:
		inv.Mode = ModeCompile
	}
	switch {
	case query || (verbose && len(inv.Inputs) == 0):
		inv.Mode, inv.Reason = ModeQuery, ReasonQuery
		return inv, nil
	case len(inv.Inputs) == 0:
		inv.Reason = ReasonNoInput
		return inv, nil
	case stdinNoLang && inv.Mode != ModePreprocess && inv.Mode != ModeDeps:
		inv.Reason = ReasonStdinLang
		return inv, nil
	case inv.Kernel != "":
		inv.Reason, inv.Detail = ReasonKernel, inv.Kernel
		return inv, nil
	}
	if inv.Mode == ModeLink {
		// Only headers: gcc writes precompiled headers and links nothing.
		headers := true
		for _, in := range inv.Inputs {
			headers = headers && isHeader(in.Lang)
		}
		if headers {
			inv.Mode = ModeCompile
		}
	}
	for _, in := range inv.Inputs {
		if family(in.Lang) == famOther {
			inv.Reason, inv.Detail = ReasonLanguage, string(in.Lang)
			return inv, nil
		}
	}
	return inv, nil
}
