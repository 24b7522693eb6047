package ccwrap

// This file is the zero-process mode: the protections immunix-cc adds by
// default, written into the compilers' own configuration (a gcc specs
// file, a clang configuration file) so that no wrapper process runs per
// compiler invocation. The flags come from the rules table (rules.go)
// through Decide's own evaluator, the runtime's arguments from guardlib,
// the note layout from internal/stamp; this file only says how gcc's spec
// language recognises the user's opposites (specGuards) and what clang's
// configuration file, which has no conditions, can do instead.
// docs/immunix-cc.md, "Zero-process mode", is the user's guide and lists
// what the mode cannot do (the FormatGuard helper pass and retry, probes,
// logs, IMMUNIX_* at build time).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
)

// The modes a zero-process build stamp records (mode=...), and the file
// names ToolchainConfig writes into its output directory.
const (
	ModeSpecs  = "specs"  // gcc -specs=DIR/immunix.specs
	ModeConfig = "config" // clang --config DIR/immunix-clang.cfg

	SpecsFileName       = "immunix.specs"
	ClangConfigFileName = "immunix-clang.cfg"
)

// ToolchainOptions says what WriteToolchainConfig writes.
type ToolchainOptions struct {
	Dir   string   // output directory (created)
	GCC   []string // the gcc command, nil for none
	Clang []string // the clang command, nil for none
	// Policy: IMMUNIX_DISABLE and IMMUNIX_LEVEL at the time of writing
	// (protections off by policy are left out and recorded as off).
	Policy Policy
	Log    func(argv []string) // receives each runtime build command
}

// ToolchainFile is one configuration file written.
type ToolchainFile struct {
	Compiler string // "gcc" or "clang"
	Path     string
	Use      string // how to use it, one line
	// Skipped says, one line each, which other ABIs' links (or their
	// static links) get no runtime and no link note, and why.
	Skipped []string
}

// zpFlags is what Decide turns on for one protection on one side of a
// default compile-and-link, and the flags its rule adds, with and without
// the user's -Werror.
type zpFlags struct {
	p             Protection
	side          side
	flags, werror []string
}

// defaultProtections evaluates the rules for "cc -O2 -o a a.c" (and with
// -Werror), in table order: what immunix-cc adds to an ordinary build with
// a compiler that has caps. off lists the protections the policy turns off.
func defaultProtections(pol Policy, caps Caps) (on []zpFlags, off []Protection, err error) {
	eval := func(args ...string) ([]zpFlags, []Protection, error) {
		inv, err := Parse(args, nil)
		if err != nil {
			return nil, nil, err
		}
		p := Plan{Inv: inv}
		c := newDecideCtx(inv, pol, caps, &p, true)
		var out []zpFlags
		var off []Protection
		for _, x := range rules {
			var rec Record
			f := c.decide(x, &rec)
			switch {
			case rec.Has(x.p):
				out = append(out, zpFlags{p: x.p, side: x.side, flags: f})
			case slices.Contains(rec.Off, x.p):
				off = append(off, x.p)
			}
		}
		return out, off, nil
	}
	on, off, err = eval("-O2", "-o", "a", "a.c")
	if err != nil {
		return nil, nil, err
	}
	w, _, err := eval("-O2", "-Werror", "-o", "a", "a.c")
	if err != nil {
		return nil, nil, err
	}
	for i := range on {
		for _, x := range w {
			if x.p == on[i].p && x.side == on[i].side {
				on[i].werror = x.flags
			}
		}
	}
	return on, sortProtections(off), nil
}

// specGuard is how a gcc spec recognises, from the switches alone, what
// immunix-cc's rule for one protection decides (security.go): the chain
// %{SKIP:;...;ON:-D__IMMUNIX_ON_p;OFF:-D__IMMUNIX_UOFF_p;LATE:;:FLAGS
// -D__IMMUNIX_ON_p}. gcc's spec language sees which switches are present,
// not their order, so "-fno-stack-protector -fstack-protector-strong"
// counts as the user's "on" whatever the order (the compiler itself still
// obeys the last).
type specGuard struct {
	skip    []string // each a condition under which the rule does not apply
	userOn  string   // the user's flags that give the protection
	userOff string   // the user's opposites (and weaker forms)
	late    string   // flags that exclude it unless the user named it
	// keep: switches whose presence means one of the rule's flags is
	// the user's already (the flag is then not repeated).
	keep map[string]string
	ld   bool // link side: the flags go to the linker (*link), not the driver
}

// bareLink: the link has no startup files or libc (rules.go, notBare).
var bareLink = []string{"nostdlib", "nostartfiles", "ffreestanding", "T*", "r"}

// notLinking: the command links nothing.
var notLinking = []string{"c", "S", "E", "M", "MM", "fsyntax-only"}

var specGuards = map[side]map[Protection]specGuard{
	compileSide: {
		Canary: {
			skip:    []string{"ffreestanding", "nostdlib"},
			userOn:  "fstack-protector-strong|fstack-protector-all",
			userOff: "fno-stack-protector|fstack-protector|fstack-protector-explicit",
		},
		StackClash: {
			userOn:  "fstack-clash-protection",
			userOff: "fno-stack-clash-protection",
			late:    "fstack-check|fstack-check=specific",
		},
		CET: {
			userOn:  "fcf-protection|fcf-protection=full",
			userOff: "fcf-protection=*|fno-cf-protection",
			late:    "mindirect-branch=*|mfunction-return=*",
		},
		Fortify: {
			skip:    []string{"!O*", "O0", "ffreestanding", "nostdlib"},
			userOn:  "D_FORTIFY_SOURCE=2|D_FORTIFY_SOURCE=3",
			userOff: "D_FORTIFY_SOURCE*|U_FORTIFY_SOURCE",
		},
		FormatSec: {
			userOff: "Wno-format|Wformat=0|Wno-format-security",
			keep: map[string]string{
				"-Wformat":          "Wformat|Wformat=*",
				"-Wformat-security": "Wformat-security|Werror=format-security",
			},
		},
		FormatGuard: {skip: []string{"ffreestanding", "nostdlib", "nostdinc"}},
		PIE: {
			skip:    []string{"ffreestanding"},
			userOn:  "fpie|fPIE|fpic|fPIC",
			userOff: "fno-pie|fno-PIE|fno-pic|fno-PIC|no-pie|nopie",
			late:    "shared|static",
		},
	},
	linkSide: {
		PIE: {
			skip:    append(append([]string{}, notLinking...), append(bareLink, "shared", "static")...),
			userOn:  "pie|static-pie",
			userOff: "no-pie|nopie",
		},
		RELRO:       {skip: bareLink, ld: true},
		Now:         {skip: bareLink, ld: true},
		NoExecStack: {skip: []string{"r"}, ld: true},
		// The runtime's arguments come from guardlib (gccRuntimeSpecs),
		// for the native ABI and each of otherABIs the compiler links
		// (gccABIs); none for -m16.
		Runtime: {skip: append([]string{"nodefaultlibs", "m16"}, bareLink...), ld: true},
	},
}

// ldArgs turns driver arguments for the linker ("-Wl,-z,relro") into the
// linker's own ("-z relro"), for a *link or *lib spec.
func ldArgs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		rest, ok := strings.CutPrefix(a, "-Wl,")
		switch {
		case ok:
			out = append(out, strings.Split(rest, ",")...)
		case !strings.HasPrefix(a, "-"):
			out = append(out, a) // a file
		default:
			return nil, fmt.Errorf("zero-process mode: %q is not a linker argument", a)
		}
	}
	return out, nil
}

// specQuote makes one spec word of a path or flag: gcc's spec language
// takes %, {, }, ;, |, : and spaces as its own.
func specQuote(s string) (string, error) {
	if strings.ContainsAny(s, "%{}; \t\n|:&\\\"'*") {
		return "", fmt.Errorf("zero-process mode: %q holds a character gcc's spec language cannot carry; choose an output directory without it", s)
	}
	return s, nil
}

func specWords(ws []string) (string, error) {
	out := make([]string, len(ws))
	for i, w := range ws {
		q, err := specQuote(w)
		if err != nil {
			return "", err
		}
		out[i] = q
	}
	return strings.Join(out, " "), nil
}

// specChain renders one guard as a spec chain.
func specChain(g specGuard, body, on, off string) string {
	var alts []string
	for _, s := range g.skip {
		alts = append(alts, s+":")
	}
	if g.userOn != "" {
		alts = append(alts, g.userOn+":"+on)
	}
	if g.userOff != "" {
		alts = append(alts, g.userOff+":"+off)
	}
	if g.late != "" {
		alts = append(alts, g.late+":")
	}
	alts = append(alts, ":"+strings.TrimSpace(body+" "+on))
	return "%{" + strings.Join(alts, ";") + "}"
}

// zpAssets are the files a configuration points at.
type zpAssets struct {
	fgDir      string // FormatGuard headers
	runtimeDir string // guardlib.OutputFiles
	stampDir   string // the compile-note header
	notes      map[string]string
	// abis: the runtime and link notes built for each of otherABIs the
	// compiler can link (gcc only), by spec switch ("m32").
	abis map[string]zpABI
}

// zpABI is the runtime and the link-note objects of one other ABI.
type zpABI struct {
	runtimeDir string
	notes      map[string]string
	// static: a static link with the runtime works (not with glibc
	// 2.36's i386 libc.a, whose memcpy objects define __memcpy_chk too);
	// false leaves static links without the runtime and the note.
	static bool
}

// otherABIs are the x86-64 ABIs a gcc link selects with a flag (-m32,
// -mx32), as spec switches: with gcc-multilib, toolchain-config builds the
// runtime and the link notes for each, and the specs choose by the flag.
var otherABIs = []string{"m32", "mx32"}

// gccABIs renders one chain that picks, by the ABI flag, what body gives
// for that ABI's assets ("" for an ABI without them), else native.
func gccABIs(a zpAssets, native string, body func(x zpABI) (string, error)) (string, error) {
	var alts []string
	for _, name := range otherABIs {
		x, ok := a.abis[name]
		if !ok {
			alts = append(alts, name+":")
			continue
		}
		b, err := body(x)
		if err != nil {
			return "", err
		}
		alts = append(alts, name+":"+b)
	}
	return "%{" + strings.Join(append(alts, ":"+native), ";") + "}", nil
}

// gccSpecs renders the specs file. Compile-side flags and -pie go to the
// driver (*self_spec, appended to the user's command line, hence the
// guards); linker flags to *link, which comes before the user's -Wl
// options and objects, so the user's "-Wl,-z,norelro" still wins; the
// runtime archives to *lib, after the objects and before libc.
func gccSpecs(on []zpFlags, a zpAssets) (gccParts, error) {
	var self, link, lib []string
	for _, x := range on {
		g, ok := specGuards[x.side][x.p]
		if !ok {
			return gccParts{}, fmt.Errorf("zero-process mode: %s (%s side) is not in the mode; use immunix-cc for this policy", x.p, x.side)
		}
		onDef, offDef := "", ""
		if x.side == compileSide {
			onDef, offDef = "-D__IMMUNIX_ON_"+string(x.p), "-D__IMMUNIX_UOFF_"+string(x.p)
		}
		flags := x.flags
		switch x.p {
		case FormatGuard:
			flags = []string{"-isystem", a.fgDir}
		case Runtime:
			if x.side != linkSide {
				break
			}
			opts, files, err := gccRuntimeSpecs(a.runtimeDir, true)
			if err != nil {
				return gccParts{}, err
			}
			if opts, err = gccABIs(a, opts, func(x zpABI) (string, error) { o, _, err := gccRuntimeSpecs(x.runtimeDir, x.static); return o, err }); err != nil {
				return gccParts{}, err
			}
			if files, err = gccABIs(a, files, func(x zpABI) (string, error) { _, f, err := gccRuntimeSpecs(x.runtimeDir, x.static); return f, err }); err != nil {
				return gccParts{}, err
			}
			link = append(link, specChain(g, opts, "", ""))
			lib = append(lib, specChain(g, files, "", ""))
			continue
		}
		if g.ld {
			words, err := ldArgs(flags)
			if err != nil {
				return gccParts{}, err
			}
			body, err := specWords(words)
			if err != nil {
				return gccParts{}, err
			}
			link = append(link, specChain(g, body, "", ""))
			continue
		}
		var parts []string
		for _, f := range flags {
			w, err := specQuote(f)
			if err != nil {
				return gccParts{}, err
			}
			if k := g.keep[f]; k != "" {
				w = "%{" + k + ":;:" + w + "}"
			}
			parts = append(parts, w)
		}
		if extra := without(x.werror, x.flags); len(extra) > 0 {
			w, err := specWords(extra)
			if err != nil {
				return gccParts{}, err
			}
			parts = append(parts, "%{Werror:"+w+"}")
		}
		self = append(self, specChain(g, strings.Join(parts, " "), onDef, offDef))
	}
	stampDir, err := specQuote(a.stampDir)
	if err != nil {
		return gccParts{}, err
	}
	// The compile note: not for -E (its output is C, read by people and
	// tools), nor for freestanding code (a note could land in a raw
	// image), as immunix-cc.
	self = append(self, "%{E|M|MM|fsyntax-only|ffreestanding:;:-idirafter "+stampDir+" -include "+StampHeaderName+"}")
	notes, err := gccNoteSpec(a.notes)
	if err != nil {
		return gccParts{}, err
	}
	if notes, err = gccABIs(a, notes, func(x zpABI) (string, error) { return gccNoteSpec(x.notes) }); err != nil {
		return gccParts{}, err
	}
	link = append(link, "%{r|T*|m16:;:"+notes+"}")

	return gccParts{self: strings.Join(self, " "), link: strings.Join(link, " "), lib: strings.Join(lib, " ")}, nil
}

// gccParts are the zero-process mode's additions to three of gcc's specs.
type gccParts struct{ self, link, lib string }

// userSpecs renders the parts as a file for -specs=: appended to
// *self_spec and *link, in front of *lib (through %rename).
func (g gccParts) userSpecs(path string) string {
	return fmt.Sprintf(`# immunix %s: gcc specs for the zero-process mode (docs/immunix-cc.md).
# Written by "immunix toolchain-config"; do not edit, rerun it.
# Use: gcc -specs=%s ...

%%rename lib immunix_orig_lib

*self_spec:
+ %s

*link:
+ %s

*lib:
%s %%(immunix_orig_lib)

`, version.Version, path, g.self, g.link, g.lib)
}

// defaultSpecs merges the parts into dump, the output of "gcc -dumpspecs":
// a complete specs file, which gcc reads instead of its built-in specs
// when it is installed as LIBDIR/specs (LIBDIR: the directory of "gcc
// -print-libgcc-file-name"), so that plain gcc applies the mode. gcc does
// not take %rename there, so the parts are spliced into the dumped text.
func (g gccParts) defaultSpecs(dump string) (string, error) {
	add := map[string]func(old string) string{
		"self_spec": func(old string) string { return strings.TrimSpace(old + " " + g.self) },
		"link":      func(old string) string { return strings.TrimSpace(old + " " + g.link) },
		"lib":       func(old string) string { return strings.TrimSpace(g.lib + " " + old) },
	}
	lines := strings.Split(dump, "\n")
	done := map[string]bool{}
	for i := 0; i+1 < len(lines); i++ {
		name, ok := strings.CutPrefix(lines[i], "*")
		name, ok2 := strings.CutSuffix(name, ":")
		if f := add[name]; ok && ok2 && f != nil && !done[name] {
			lines[i+1] = f(lines[i+1])
			done[name] = true
		}
	}
	for name := range add {
		if !done[name] {
			return "", fmt.Errorf("zero-process mode: gcc -dumpspecs has no *%s spec", name)
		}
	}
	return strings.Join(lines, "\n"), nil
}

// gccRuntimeSpecs splits guardlib's link arguments for the three kinds of
// link (shared library, static, executable) into linker options (*link)
// and archives (*lib); static false leaves static links without them.
func gccRuntimeSpecs(dir string, static bool) (opts, files string, err error) {
	kinds := []struct {
		cond string
		t    guardlib.Target
	}{
		{"shared", guardlib.Target{Shared: true}},
		{"static|static-pie", guardlib.Target{Static: true}},
		{"", guardlib.Target{Exe: true}},
	}
	var o, f []string
	for _, k := range kinds {
		if k.t.Static && !static {
			o, f = append(o, k.cond+":"), append(f, k.cond+":")
			continue
		}
		var opts1, files1 []string
		for _, a := range guardlib.LinkArgsIn(dir, k.t) {
			if strings.HasPrefix(a, "-") {
				opts1 = append(opts1, a)
			} else {
				files1 = append(files1, a)
			}
		}
		ow, err := ldArgs(opts1)
		if err != nil {
			return "", "", err
		}
		ows, err := specWords(ow)
		if err != nil {
			return "", "", err
		}
		fws, err := specWords(files1)
		if err != nil {
			return "", "", err
		}
		o = append(o, k.cond+":"+ows)
		f = append(f, k.cond+":"+fws)
	}
	return "%{" + strings.Join(o, ";") + "}", "%{" + strings.Join(f, ";") + "}", nil
}

// linkNoteKinds are the links whose notes differ, as the flags that make
// them (Decide gives each its record) and the spec condition that picks
// each note object; the last is the default.
var linkNoteKinds = []struct{ name, cond, flag string }{
	{"bare", "nostdlib|nostartfiles|ffreestanding", "-nostdlib"},
	{"shared", "shared", "-shared"},
	{"static", "static", "-static"},
	{"static-pie", "static-pie", "-static-pie"},
	{"no-pie", "no-pie|nopie", "-no-pie"},
	{"exe", "", ""},
}

// gccNoteSpec picks one ABI's link-note object by the kind of link.
func gccNoteSpec(notes map[string]string) (string, error) {
	var alts []string
	for _, k := range linkNoteKinds {
		p, err := specQuote(notes[k.name])
		if err != nil {
			return "", err
		}
		alts = append(alts, k.cond+":"+p)
	}
	return "%{" + strings.Join(alts, ";") + "}", nil
}

// without returns the elements of a that b lacks.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// stampConds are the compile header's conditions: for gcc, the macros the
// specs define (specChain); for clang, what the compiler's own macros
// show, and for what they do not show, the configuration's word.
func stampConds(on []zpFlags, mode string) []stamp.Condition {
	var out []stamp.Condition
	for _, x := range on {
		if x.side != compileSide {
			continue
		}
		c := stamp.Condition{Name: string(x.p)}
		if mode == ModeSpecs {
			c.On, c.UserOff = "defined(__IMMUNIX_ON_"+string(x.p)+")", "defined(__IMMUNIX_UOFF_"+string(x.p)+")"
		} else {
			var on string
			switch x.p {
			case Canary:
				on = "(defined(__SSP_STRONG__) || defined(__SSP_ALL__))"
			case CET:
				on = "(defined(__CET__) && (__CET__ & 3) == 3)"
			case Fortify:
				on = "(defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE >= 2 && defined(__OPTIMIZE__))"
			case PIE:
				on = "(defined(__PIE__) || defined(__PIC__))"
			}
			c.On, c.UserOff = "1", "0"
			if on != "" {
				c.On, c.UserOff = on, "!"+on
				if x.p == Fortify {
					c.UserOff = "defined(__OPTIMIZE__) && !" + on
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// clangFortify defines _FORTIFY_SOURCE in the compile header when the user
// did not: a configuration file cannot ask whether the build optimises
// (glibc warns under -O0) or is freestanding, nor keep a user's later
// -D_FORTIFY_SOURCE=N from being a redefinition.
func clangFortify(level int) string {
	return fmt.Sprintf(`#if !defined(_FORTIFY_SOURCE) && defined(__OPTIMIZE__) && !defined(__ASSEMBLER__)
#define _FORTIFY_SOURCE %d
#endif
`, level)
}

// clangConfig renders the clang configuration file: the same flags, in
// front of the user's, so that the user's later opposite wins (clang obeys
// the last of -fstack-protector-strong and -fno-stack-protector, of -pie
// and -no-pie, and so on). The runtime comes through -lc: the directory
// holds a libc.so and a libc.a that are linker scripts naming the guard
// runtime and then the real libc, so a link without libc (-nostdlib,
// -nodefaultlibs) has no runtime either.
func clangConfig(on []zpFlags, a zpAssets, libDir string) (string, error) {
	var args []string
	for _, x := range on {
		if _, ok := specGuards[x.side][x.p]; !ok {
			return "", fmt.Errorf("zero-process mode: %s (%s side) is not in the mode; use immunix-cc for this policy", x.p, x.side)
		}
		flags := x.werror
		switch {
		case x.p == FormatGuard:
			flags = []string{"-isystem", a.fgDir}
		case x.p == Fortify:
			flags = slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return strings.Contains(f, "_FORTIFY_SOURCE") })
		case x.p == Runtime && x.side == linkSide:
			flags = []string{"-L" + libDir}
			for _, f := range guardlib.WrappedFuncs {
				flags = append(flags, "-Wl,--wrap="+f)
			}
			syms, err := exportedSymbols(a.runtimeDir)
			if err != nil {
				return "", err
			}
			for _, s := range syms {
				flags = append(flags, "-Wl,--export-dynamic-symbol="+s)
			}
		}
		args = append(args, flags...)
	}
	args = append(args, "-idirafter", a.stampDir, "-include", StampHeaderName, a.notes["exe"])
	var b strings.Builder
	fmt.Fprintf(&b, "# immunix %s: clang configuration file for the zero-process mode\n# (docs/immunix-cc.md). Written by \"immunix toolchain-config\"; do not edit.\n", version.Version)
	for _, x := range args {
		if strings.ContainsAny(x, " \t\n\"'\\#") {
			return "", fmt.Errorf("zero-process mode: %q needs quoting in a clang configuration file; choose an output directory without spaces or quotes", x)
		}
		b.WriteString(x + "\n")
	}
	return b.String(), nil
}

var listSym = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_.]*`)

// exportedSymbols reads the runtime's export lists (guardlib's
// --dynamic-list files), for -Wl,--export-dynamic-symbol: unlike
// --dynamic-list, it leaves a shared library's other symbols
// interposable.
func exportedSymbols(dir string) ([]string, error) {
	var out []string
	for _, name := range []string{guardlib.ExportListName, guardlib.RaceGuardListName} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("zero-process mode: read the runtime's export list: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == '}' || r == ';' || r == ' ' || r == '\t' }) {
				if listSym.MatchString(w) && listSym.FindString(w) == w {
					out = append(out, w)
				}
			}
		}
	}
	return out, nil
}

// clangLibcScripts writes dir/libc.so and dir/libc.a: linker scripts that
// pull in the guard runtime (the arguments guardlib gives an executable or
// a static link, as INPUT and EXTERN) and then the real libc that clang
// names with -print-file-name.
func clangLibcScripts(clang []string, runtimeDir, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("zero-process mode: %w", err)
	}
	for _, k := range []struct {
		name string
		t    guardlib.Target
	}{{"libc.so", guardlib.Target{Exe: true}}, {"libc.a", guardlib.Target{Static: true}}} {
		out, err := exec.Command(clang[0], append(slices.Clone(clang[1:]), "-print-file-name="+k.name)...).Output()
		if err != nil {
			return fmt.Errorf("zero-process mode: find %s with %s: %w", k.name, clang[0], err)
		}
		real := strings.TrimSpace(string(out))
		if !filepath.IsAbs(real) {
			return fmt.Errorf("zero-process mode: %s does not know where %s is (it said %q)", clang[0], k.name, real)
		}
		var externs, inputs []string
		for _, a := range guardlib.LinkArgsIn(runtimeDir, k.t) {
			switch {
			case strings.HasPrefix(a, "-Wl,-u,"):
				externs = append(externs, strings.TrimPrefix(a, "-Wl,-u,"))
			case !strings.HasPrefix(a, "-"):
				inputs = append(inputs, a)
			}
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "/* immunix toolchain-config: the guard runtime, then the real %s. */\n", k.name)
		fmt.Fprintf(&b, "EXTERN(%s)\nINPUT(%s)\n", strings.Join(externs, " "), strings.Join(inputs, " "))
		if k.name == "libc.so" {
			// The real libc.so is itself a script (libc.so.6,
			// libc_nonshared.a, the dynamic loader).
			fmt.Fprintf(&b, "INCLUDE %s\n", real)
		} else {
			fmt.Fprintf(&b, "GROUP(%s)\n", real)
		}
		if err := os.WriteFile(filepath.Join(dir, k.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("zero-process mode: %w", err)
		}
	}
	return nil
}

// linkNotes assembles one link-note object per kind of link (clang: the
// executable's only) for the ABI selected by the spec switch abi ("" for
// the native one) into dir, and returns them by kind.
func linkNotes(cmd []string, abi, mode string, caps Caps, pol Policy, dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var abiFlags []string
	if abi != "" {
		abiFlags = []string{"-" + abi}
	}
	notes := map[string]string{}
	for _, k := range linkNoteKinds {
		if mode == ModeConfig && k.name != "exe" {
			continue
		}
		args := append([]string{"-o", "a", "a.o"}, abiFlags...)
		if k.flag != "" {
			args = append(args, k.flag)
		}
		inv, err := Parse(args, nil)
		if err != nil {
			return nil, err
		}
		plan := Decide(inv, pol, caps)
		s := plan.LinkRec.Stamp(stamp.Link)
		s.Extra = map[string]string{"mode": mode}
		if err := assembleNote(cmd, abiFlags, s, dir, k.name+".o"); err != nil {
			return nil, err
		}
		notes[k.name] = filepath.Join(dir, k.name+".o")
	}
	return notes, nil
}

// abiSkip says why one other ABI's links (static: only its static links)
// get no runtime and no link note.
type abiSkip struct {
	msg    string
	static bool
}

func (e *abiSkip) Error() string { return e.msg }

// otherABI builds the guard runtime (into DIR/runtime) and the link notes
// (into noteDir) for gcc's -ABI links, after a probe link of abiProbe; a
// compiler that cannot link for the ABI gives an *abiSkip, which names the
// flag and the compiler's words. A static probe link with the runtime
// decides whether static links take it (else zpABI.static is false, and
// the *abiSkip says so).
func otherABI(cmd []string, abi string, caps Caps, o ToolchainOptions, dir, noteDir string) (zpABI, error) {
	flag := "-" + abi
	tmp, err := os.MkdirTemp("", "immunix-abi-")
	if err != nil {
		return zpABI{}, err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "a.c")
	if err := os.WriteFile(src, []byte(abiProbe), 0o644); err != nil {
		return zpABI{}, err
	}
	if out, err := exec.Command(cmd[0], append(slices.Clone(cmd[1:]), flag, src, "-o", filepath.Join(tmp, "a"))...).CombinedOutput(); err != nil {
		return zpABI{}, &abiSkip{msg: fmt.Sprintf("%s links get no guard runtime and no link note: %s cannot link for %s (%s; on Debian, install gcc-multilib)", flag, cmd[0], flag, firstLine(out, "error"))}
	}
	t := guardlib.Target{Compiler: cmd, ABIFlags: []string{flag}}
	key, err := guardlib.Key(t)
	if err != nil {
		return zpABI{}, err
	}
	arch, err := guardlib.Prebuild(t, key, filepath.Join(dir, "runtime"), guardlib.BuildOptions{Log: o.Log})
	if err != nil {
		return zpABI{}, fmt.Errorf("guard runtime for %s: %w", flag, err)
	}
	notes, err := linkNotes(cmd, abi, ModeSpecs, caps, o.Policy, noteDir)
	if err != nil {
		return zpABI{}, fmt.Errorf("link notes for %s: %w", flag, err)
	}
	x := zpABI{runtimeDir: filepath.Dir(arch), notes: notes, static: true}
	// A static link with the runtime, as the specs would make it.
	args := append(slices.Clone(cmd[1:]), flag, "-O2", "-D_FORTIFY_SOURCE=2", "-static", src, "-o", filepath.Join(tmp, "s"))
	if out, err := exec.Command(cmd[0], append(args, guardlib.LinkArgsIn(x.runtimeDir, guardlib.Target{Static: true})...)...).CombinedOutput(); err != nil {
		x.static = false
		delete(x.notes, "static")
		delete(x.notes, "static-pie")
		return x, &abiSkip{static: true, msg: fmt.Sprintf("%s -static links get no guard runtime and no link note: a static link with the runtime fails (%s)", flag, firstLine(out, "multiple definition"))}
	}
	return x, nil
}

// abiProbe is otherABI's probe program: it takes libc's headers, and,
// fortified, pulls in the runtime's checked copies and libc's memcpy.
const abiProbe = `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char b[16];
	strcpy(b, argv[0]);
	memcpy(b, argv[0], (size_t)argc);
	return puts(b) < 0;
}
`

// firstLine returns the first line of out that holds want, from want on,
// else out's first line.
func firstLine(out []byte, want string) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		if i := strings.Index(l, want); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return lines[0]
}

// WriteToolchainConfig writes the zero-process mode's files into o.Dir: for
// gcc, immunix.specs; for clang, immunix-clang.cfg; and what they name:
// the guard runtime built by each compiler (runtime/KEY), the FormatGuard
// headers, the compile-note header and the link-note objects of each.
func WriteToolchainConfig(o ToolchainOptions) ([]ToolchainFile, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	fgDir, err := guardlib.PrebuildFormatGuardHeaders(dir)
	if err != nil {
		return nil, fmt.Errorf("formatguard headers: %w", err)
	}
	var out []ToolchainFile
	for _, c := range []struct {
		name, mode string
		cmd        []string
	}{{"gcc", ModeSpecs, o.GCC}, {"clang", ModeConfig, o.Clang}} {
		if len(c.cmd) == 0 {
			continue
		}
		f, err := writeCompilerConfig(dir, c.name, c.mode, c.cmd, fgDir, o)
		if err != nil {
			return out, fmt.Errorf("%s: %w", c.name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func writeCompilerConfig(dir, name, mode string, cmd []string, fgDir string, o ToolchainOptions) (ToolchainFile, error) {
	p, err := exec.LookPath(cmd[0])
	if err != nil {
		return ToolchainFile{}, err
	}
	cmd = append([]string{p}, cmd[1:]...)
	_, caps, _, err := probeCompiler(cmd, nil)
	if err != nil {
		return ToolchainFile{}, err
	}
	if want := map[string]string{ModeSpecs: "gcc", ModeConfig: "clang"}[mode]; caps.Kind != want {
		return ToolchainFile{}, fmt.Errorf("%s is %s, not %s", cmd[0], caps.Kind, want)
	}
	on, off, err := defaultProtections(o.Policy, caps)
	if err != nil {
		return ToolchainFile{}, err
	}
	t := guardlib.Target{Compiler: cmd}
	rkey, err := guardlib.Key(t)
	if err != nil {
		return ToolchainFile{}, err
	}
	arch, err := guardlib.Prebuild(t, rkey, filepath.Join(dir, "runtime"), guardlib.BuildOptions{Log: o.Log})
	if err != nil {
		return ToolchainFile{}, fmt.Errorf("guard runtime: %w", err)
	}
	sub := filepath.Join(dir, name)
	a := zpAssets{fgDir: fgDir, runtimeDir: filepath.Dir(arch), stampDir: filepath.Join(sub, "stamp"), notes: map[string]string{}}
	for _, d := range []string{a.stampDir, filepath.Join(sub, "note")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return ToolchainFile{}, err
		}
	}
	header := stamp.ZeroProcessHeader(version.Version, stampConds(on, mode), protectionStrings(off), fortifyLevel(caps), mode)
	if mode == ModeConfig {
		// Freestanding code gets no note, as from immunix-cc.
		header = clangFortify(fortifyLevel(caps)) + "#if __STDC_HOSTED__\n" + header + "#endif\n"
	}
	if err := os.WriteFile(filepath.Join(a.stampDir, StampHeaderName), []byte(header), 0o644); err != nil {
		return ToolchainFile{}, err
	}
	if a.notes, err = linkNotes(cmd, "", mode, caps, o.Policy, filepath.Join(sub, "note")); err != nil {
		return ToolchainFile{}, err
	}
	var skipped []string
	if mode == ModeSpecs {
		a.abis = map[string]zpABI{}
		for _, abi := range otherABIs {
			x, err := otherABI(cmd, abi, caps, o, dir, filepath.Join(sub, "note", abi))
			var skip *abiSkip
			switch {
			case errors.As(err, &skip):
				skipped = append(skipped, skip.msg)
				if !skip.static {
					continue
				}
			case err != nil:
				return ToolchainFile{}, err
			}
			a.abis[abi] = x
		}
	}
	if mode == ModeSpecs {
		path := filepath.Join(dir, SpecsFileName)
		parts, err := gccSpecs(on, a)
		if err != nil {
			return ToolchainFile{}, err
		}
		if err := os.WriteFile(path, []byte(parts.userSpecs(path)), 0o644); err != nil {
			return ToolchainFile{}, err
		}
		dump, err := exec.Command(cmd[0], append(slices.Clone(cmd[1:]), "-dumpspecs")...).Output()
		if err != nil {
			return ToolchainFile{}, fmt.Errorf("%s -dumpspecs: %w", cmd[0], err)
		}
		def, err := parts.defaultSpecs(string(dump))
		if err != nil {
			return ToolchainFile{}, err
		}
		if err := os.WriteFile(filepath.Join(sub, "specs"), []byte(def), 0o644); err != nil {
			return ToolchainFile{}, err
		}
		return ToolchainFile{Compiler: name, Path: path, Use: cmd[0] + " -specs=" + path + " ...", Skipped: skipped}, nil
	}
	libDir := filepath.Join(sub, "lib")
	if err := clangLibcScripts(cmd, a.runtimeDir, libDir); err != nil {
		return ToolchainFile{}, err
	}
	path := filepath.Join(dir, ClangConfigFileName)
	text, err := clangConfig(on, a, libDir)
	if err != nil {
		return ToolchainFile{}, err
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return ToolchainFile{}, err
	}
	return ToolchainFile{Compiler: name, Path: path, Use: cmd[0] + " --config " + path + " ..."}, nil
}
