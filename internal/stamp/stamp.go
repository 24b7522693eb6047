// Package stamp encodes and decodes immunix's build stamp: the ELF note that
// records, in every object and linked file immunix-cc builds, which
// protections were applied and which were turned off. docs/contracts.md
// defines the format; ccwrap writes stamps and check reads them.
//
// Example:
//
//	s := stamp.Stamp{Type: stamp.Compile, Version: "0.1.0", On: []string{"canary"}, Fortify: 3, Lang: "c"}
//	asm := s.Asm()          // top-level assembly that emits the note
//	text := s.String()      // "v=0.1.0 on=canary off=- user-off=- fortify=3 lang=c"
//	back, _ := stamp.Parse(stamp.Compile, []byte(text))
package stamp

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/immunix/immunix/internal/elfnote"
)

// Section is the name of the ELF section that holds immunix notes.
const Section = ".note.immunix"

// NoteName is the ELF note owner name.
const NoteName = "Immunix"

// Note types.
const (
	Compile = 1 // written by a compile step, one per translation unit
	Link    = 2 // written by a link step
)

// ModeWrapper names, in reports, the notes without a mode= field: written by
// immunix-cc. The zero-process mode's notes say mode=specs (gcc specs) or
// mode=config (a clang configuration file).
const ModeWrapper = "wrapper"

// Stamp is one decoded note.
type Stamp struct {
	Type    int    // Compile or Link
	Version string // immunix version
	On      []string
	Off     []string // turned off by policy
	UserOff []string // turned off by the user's own flags
	// Failed lists protections the policy asked for that immunix-cc could
	// not apply (the guard runtime could not be built, the FormatGuard
	// headers could not be written, the unit only compiled without them).
	// Written as "failed=LIST" only when not empty.
	Failed  []string
	Fortify int    // FORTIFY level in force, 0..3
	Lang    string // compile notes only
	Extra   map[string]string
}

// String renders the note's desc text (without the NUL).
func (s Stamp) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=%s on=%s off=%s user-off=%s fortify=%d", tok(s.Version), list(s.On), list(s.Off), list(s.UserOff), s.Fortify)
	if len(s.Failed) > 0 {
		fmt.Fprintf(&b, " failed=%s", list(s.Failed))
	}
	if s.Lang != "" {
		fmt.Fprintf(&b, " lang=%s", tok(s.Lang))
	}
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", tok(k), tok(s.Extra[k]))
	}
	return b.String()
}

func tok(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '=' {
			return '_'
		}
		return r
	}, s)
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ReplaceAll(tok(x), ",", "_")
	}
	return strings.Join(out, ",")
}

// Parse decodes a note desc. Unknown keys land in Extra.
func Parse(typ int, desc []byte) (Stamp, error) {
	desc = bytes.TrimRight(desc, "\x00")
	s := Stamp{Type: typ}
	seenV := false
	for _, f := range strings.Fields(string(desc)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Stamp{}, fmt.Errorf("stamp field %q has no '='", f)
		}
		if v == "-" {
			v = ""
		}
		switch k {
		case "v":
			s.Version, seenV = v, true
		case "on":
			s.On = split(v)
		case "off":
			s.Off = split(v)
		case "user-off":
			s.UserOff = split(v)
		case "failed":
			s.Failed = split(v)
		case "fortify":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 3 {
				return Stamp{}, fmt.Errorf("stamp fortify level %q is not 0..3", v)
			}
			s.Fortify = n
		case "lang":
			s.Lang = v
		default:
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}
			s.Extra[k] = v
		}
	}
	if !seenV {
		return Stamp{}, errors.New("stamp has no version field")
	}
	return s, nil
}

func split(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Has reports whether the protection is in s.On.
func (s Stamp) Has(name string) bool {
	for _, x := range s.On {
		if x == name {
			return true
		}
	}
	return false
}

// Asm returns GNU assembler text that emits s as a note into Section. It is
// valid both as the body of a top-level __asm__ in C and C++ (after escaping
// for a string literal) and as a stand-alone .s file, for ELF32 and ELF64.
func (s Stamp) Asm() string {
	var b strings.Builder
	for _, l := range noteAsm(s.Type, `"`+s.String()+`"`) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// noteAsm is the one layout of an immunix note in assembler lines: owner
// NoteName, type typ, and as desc the string the .asciz operand desc gives
// (a quoted string, or a macro the preprocessor turns into one). The
// assembler computes descsz from the two local labels.
func noteAsm(typ int, desc string) []string {
	return []string{
		"\t.pushsection " + Section + `,"a",%note`,
		"\t.balign 4",
		fmt.Sprintf("\t.long %d", len(NoteName)+1),
		"\t.long 1f - 0f",
		fmt.Sprintf("\t.long %d", typ),
		fmt.Sprintf("\t.asciz \"%s\"", NoteName),
		"\t.balign 4",
		"0:\t.asciz " + desc,
		"1:\t.balign 4",
		"\t.popsection",
	}
}

// CompileHeader is the header immunix-cc adds to every compile with
// -include: it emits one Compile note per translation unit, whose text
// comes from the command line (-D__IMMUNIX_STAMP="..." for C, C++ and
// Objective-C, with the language appended here; __IMMUNIX_STAMP_ASM for
// preprocessed assembler). It never changes with the policy, so a policy
// change changes the command line, which is what ccache and distcc hash.
func CompileHeader() string {
	var b strings.Builder
	b.WriteString(`/* immunix build stamp (docs/contracts.md): one NT_IMMUNIX_COMPILE note in
 * .note.immunix per translation unit. Added by immunix-cc with -include; the
 * note text comes from the command line. */
#if defined(__ASSEMBLER__)
#if defined(__IMMUNIX_STAMP_ASM)
`)
	for _, l := range noteAsm(Compile, "__IMMUNIX_STAMP_ASM") {
		b.WriteString(l + "\n")
	}
	b.WriteString("#endif\n#elif defined(__IMMUNIX_STAMP)\n" + langMacro + "__asm__(")
	// Each line becomes a C string literal; the desc is the string the
	// two macros make, spliced in between the literal's quotes.
	const desc = "@desc@"
	for i, l := range noteAsm(Compile, `"`+desc+`"`) {
		if i > 0 {
			b.WriteString("\n\t")
		}
		l = strings.ReplaceAll(strings.ReplaceAll(l, "\t", `\t`), `"`, `\"`)
		l = strings.Replace(l, desc, `" __IMMUNIX_STAMP __IMMUNIX_STAMP_LANG "`, 1)
		b.WriteString(`"` + l + `\n"`)
	}
	b.WriteString(`);
#undef __IMMUNIX_STAMP_LANG
#endif
`)
	return b.String()
}

// Read returns every immunix note in the ELF file, in file order. A file
// without the section yields no stamps and no error.
func Read(f *elf.File) ([]Stamp, error) {
	var out []Stamp
	for _, sec := range f.Sections {
		if sec.Name != Section {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", Section, err)
		}
		stamps, err := ParseNotes(data, f.ByteOrder)
		if err != nil {
			return nil, err
		}
		out = append(out, stamps...)
	}
	return out, nil
}

// ParseNotes decodes the immunix notes in the raw contents of a note section
// or segment (4-byte aligned, walked by internal/elfnote); notes of other
// owners are skipped.
func ParseNotes(data []byte, order binary.ByteOrder) ([]Stamp, error) {
	var out []Stamp
	err := elfnote.Walk(data, order, 4, func(name string, typ uint32, desc []byte) error {
		if name != NoteName {
			return nil
		}
		s, err := Parse(int(typ), desc)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Condition says, as C preprocessor expressions, when one protection is in
// force and when the user turned it off (for ZeroProcessHeader).
type Condition struct {
	Name    string // the protection's contract name
	On      string // true when the protection is in force
	UserOff string // true when the user's flags turned it off ("0": never)
}

// ZeroProcessHeader is CompileHeader for the zero-process mode, where the
// compiler's own configuration (gcc specs, a clang configuration file)
// adds it with -include and no immunix-cc runs to write the note's text on
// the command line: the preprocessor works the text out from conds, off
// (the protections turned off by policy when the configuration was
// written) and the FORTIFY level in force (at most fortifyCap, what the
// libc grants), and the note says mode=MODE. Preprocessed assembler gets a
// note that records only the version, the language and the mode.
func ZeroProcessHeader(version string, conds []Condition, off []string, fortifyCap int, mode string) string {
	var b strings.Builder
	b.WriteString(`/* immunix build stamp, zero-process mode (docs/contracts.md, docs/immunix-cc.md):
 * one NT_IMMUNIX_COMPILE note in .note.immunix per translation unit, whose
 * text the preprocessor works out from the macros the compiler's
 * configuration and its own flags define. Written by immunix
 * toolchain-config; do not edit. */
#if defined(__ASSEMBLER__)
`)
	asmNote := Stamp{Type: Compile, Version: version, Lang: "asm", Extra: map[string]string{"mode": mode}}
	for _, l := range noteAsm(Compile, `"`+asmNote.String()+`"`) {
		b.WriteString(l + "\n")
	}
	b.WriteString("#else\n")
	lists := []struct {
		macro string
		cond  func(Condition) string
	}{
		{"__IMMUNIX_ZP_ON", func(c Condition) string { return c.On }},
		{"__IMMUNIX_ZP_UOFF", func(c Condition) string { return c.UserOff }},
	}
	var undef []string
	for _, l := range lists {
		any := l.macro + "_ANY"
		prev := l.macro + "0"
		fmt.Fprintf(&b, "#define %s\n", prev)
		undef = append(undef, prev, any)
		for i, c := range conds {
			cur := fmt.Sprintf("%s%d", l.macro, i+1)
			undef = append(undef, cur)
			fmt.Fprintf(&b, "#if %s\n#ifdef %s\n#define %s %s \",%s\"\n#else\n#define %s %s \"%s\"\n#define %s\n#endif\n#else\n#define %s %s\n#endif\n",
				l.cond(c), any, cur, prev, c.Name, cur, prev, c.Name, any, cur, prev)
			prev = cur
		}
		fmt.Fprintf(&b, "#ifdef %s\n#define %s %s\n#else\n#define %s \"-\"\n#endif\n", any, l.macro, prev, l.macro)
		undef = append(undef, l.macro)
	}
	b.WriteString("#if defined(_FORTIFY_SOURCE) && defined(__OPTIMIZE__)\n")
	for lvl := 3; lvl >= 1; lvl-- {
		kw := "#elif"
		if lvl == 3 {
			kw = "#if"
		}
		fmt.Fprintf(&b, "%s _FORTIFY_SOURCE >= %d\n#define __IMMUNIX_ZP_FORTIFY \"%d\"\n", kw, lvl, min(lvl, fortifyCap))
	}
	b.WriteString("#else\n#define __IMMUNIX_ZP_FORTIFY \"0\"\n#endif\n#else\n#define __IMMUNIX_ZP_FORTIFY \"0\"\n#endif\n")
	undef = append(undef, "__IMMUNIX_ZP_FORTIFY")
	b.WriteString(langMacro + "__asm__(")
	// The note text: the fixed fields as literals, the lists and the
	// level as the macros above, in String's order.
	desc := fmt.Sprintf(`v=%s on=" __IMMUNIX_ZP_ON " off=%s user-off=" __IMMUNIX_ZP_UOFF " fortify=" __IMMUNIX_ZP_FORTIFY __IMMUNIX_STAMP_LANG " mode=%s`, tok(version), list(off), tok(mode))
	const hole = "@desc@"
	for i, l := range noteAsm(Compile, `"`+hole+`"`) {
		if i > 0 {
			b.WriteString("\n\t")
		}
		l = strings.ReplaceAll(strings.ReplaceAll(l, "\t", `\t`), `"`, `\"`)
		l = strings.Replace(l, hole, desc, 1)
		b.WriteString(`"` + l + `\n"`)
	}
	b.WriteString(");\n")
	undef = append(undef, "__IMMUNIX_STAMP_LANG")
	for _, u := range undef {
		fmt.Fprintf(&b, "#undef %s\n", u)
	}
	b.WriteString("#endif\n")
	return b.String()
}

// langMacro defines __IMMUNIX_STAMP_LANG, the note's lang= field, from the
// language the compiler is compiling (the stamp header's and the
// zero-process header's alike).
const langMacro = `#if defined(__OBJC__)
#define __IMMUNIX_STAMP_LANG " lang=objc"
#elif defined(__cplusplus)
#define __IMMUNIX_STAMP_LANG " lang=c++"
#else
#define __IMMUNIX_STAMP_LANG " lang=c"
#endif
`
