// Package helpers finds a C unit's own printf-like functions (helpers) in
// its preprocessed text and rewrites their calls so that the call site's
// argument count and classes reach the v*printf call the helper makes,
// where the guard runtime checks the format like a direct call
// (docs/formatguard.md, "The program's own printf helpers").
//
// A helper is
//   - a function declared with __attribute__((format(printf, m, n))), n > 0,
//     outside a system header, or
//   - a variadic function defined in the unit whose body passes one of its
//     parameters, unchanged, as the format of a v*printf call or of a
//     forwarder;
//
// a forwarder is a function declared format(printf, m, 0), or defined in the
// unit with a va_list parameter, passing a parameter as the format of a
// v*printf call or of another forwarder (log_msg calling vlog_msg(fmt, ap): two levels and more).
//
// A call of a helper with a format that is not a string literal becomes a
// statement expression that saves the thread's slot, calls the helper with
// the format stored in the slot (__immunix_fg_hset(count|classes, fmt)), and
// restores the slot when it ends (a cleanup variable). In a unit that defines
// a helper or a forwarder, each v*printf call with a non-literal format
// passes the format through __immunix_fg_vF, which checks it when it is the
// slot's format. A helper called through a parenthesised expression whose
// value it is, (*(set_loc(__FILE__, __LINE__), r_fatal))(fmt) as gawk's
// fatal macro expands, is a helper call too. Only text outside system
// headers, inside function bodies,
// is changed; declarations are never touched. C, and C++ through RewriteCXX.
package helpers

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/immunix/immunix/formatguard"
)

// MayDefineHelper reports whether a unit's own source text (before
// preprocessing) may define or declare a helper: it names va_list or
// va_start, or says format(printf / __format__(__printf__. A unit without
// any of these can still call a helper declared in a header it includes;
// immunix-cc's default level skips such units to spare them a second
// preprocessing (docs/formatguard.md), IMMUNIX_LEVEL=max does not.
func MayDefineHelper(src []byte) bool {
	if bytes.Contains(src, []byte("va_list")) || bytes.Contains(src, []byte("va_start")) {
		return true
	}
	for rest := src; ; {
		i := bytes.Index(rest, []byte("format"))
		if i < 0 {
			return false
		}
		rest = rest[i+len("format"):]
		near := rest[:min(len(rest), 16)]
		if j := bytes.IndexByte(near, '('); j >= 0 && bytes.Contains(near[j:], []byte("printf")) {
			return true
		}
	}
}

// Stats says what Rewrite found and changed.
type Stats struct {
	Helpers    []string // helper names, in order of appearance
	Forwarders []string // forwarder names defined or declared in the unit
	Calls      int      // helper calls rewritten
	VCalls     int      // v*printf calls rewritten
}

// Changed reports whether the text was rewritten.
func (s Stats) Changed() bool { return s.Calls+s.VCalls > 0 }

type tok struct {
	kind byte // 'i' identifier, 's' string, 'c' char, 'n' number, 'p' punctuator
	s, e int
	sys  bool // in a system header (line marker flag 3)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// lex splits preprocessed C into tokens, reading line markers
// ("# 12 "file" 1 3") for the system-header flag. Directives other than
// line markers (#pragma, #ident) are skipped.
func lex(src []byte) ([]tok, error) {
	var toks []tok
	sys := false
	bol := true
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			bol = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '#' && bol:
			j := i
			for j < len(src) && src[j] != '\n' {
				j++
			}
			if s, ok := lineMarkerSys(string(src[i+1 : j])); ok {
				sys = s
			}
			i = j
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(string(src[i+2:]), "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			i += j + 4
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		bol = false
		start := i
		switch {
		case c == '"' || c == '\'':
			j, err := quoted(src, i)
			if err != nil {
				return nil, err
			}
			k := byte('s')
			if c == '\'' {
				k = 'c'
			}
			toks = append(toks, tok{k, start, j, sys})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdent(src[j]) {
				j++
			}
			if j < len(src) && src[j] == '"' {
				switch string(src[i:j]) {
				case "R", "LR", "uR", "UR", "u8R":
					// a raw string: R"delim( ... )delim", newlines and
					// quotes included
					e, err := rawString(src, j)
					if err != nil {
						return nil, err
					}
					toks = append(toks, tok{'s', start, e, sys})
					i = e
					continue
				}
			}
			if j < len(src) && (src[j] == '"' || src[j] == '\'') {
				switch string(src[i:j]) {
				case "L", "u", "U", "u8":
					e, err := quoted(src, j)
					if err != nil {
						return nil, err
					}
					k := byte('s')
					if src[j] == '\'' {
						k = 'c'
					}
					toks = append(toks, tok{k, start, e, sys})
					i = e
					continue
				}
			}
			toks = append(toks, tok{'i', start, j, sys})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < len(src) {
				d := src[j]
				if (d == '+' || d == '-') && strings.ContainsRune("eEpP", rune(src[j-1])) {
					j++
					continue
				}
				if d == '\'' && j+1 < len(src) && isIdent(src[j+1]) {
					j += 2 // a digit separator (C++14, C23): 1'000'000
					continue
				}
				if !isIdent(d) && d != '.' {
					break
				}
				j++
			}
			toks = append(toks, tok{'n', start, j, sys})
			i = j
		default:
			j := i + 1
			if strings.HasPrefix(string(src[i:min(i+3, len(src))]), "...") {
				j = i + 3
			} else if c == '-' && i+1 < len(src) && src[i+1] == '>' {
				j = i + 2
			}
			toks = append(toks, tok{'p', start, j, sys})
			i = j
		}
	}
	return toks, nil
}

// rawString returns the end of the raw string literal whose opening quote
// is at i.
func rawString(src []byte, i int) (int, error) {
	open := bytes.IndexByte(src[i+1:min(len(src), i+18)], '(')
	if open < 0 {
		return 0, fmt.Errorf("bad raw string delimiter at byte %d", i)
	}
	delim := src[i+1 : i+1+open]
	if bytes.ContainsAny(delim, " ()\\\t\v\f\n\"") {
		return 0, fmt.Errorf("bad raw string delimiter at byte %d", i)
	}
	end := append(append([]byte{')'}, delim...), '"')
	k := bytes.Index(src[i+2+open:], end)
	if k < 0 {
		return 0, fmt.Errorf("unterminated raw string at byte %d", i)
	}
	return i + 2 + open + k + len(end), nil
}

func quoted(src []byte, i int) (int, error) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j + 1, nil
		case '\n':
			return 0, fmt.Errorf("unterminated literal at byte %d", i)
		}
	}
	return 0, fmt.Errorf("unterminated literal at byte %d", i)
}

// lineMarkerSys parses ` 12 "file" 1 3` (after the '#'); ok is false for
// any other directive.
func lineMarkerSys(s string) (sys, ok bool) {
	f := strings.Fields(s)
	if len(f) > 0 && f[0] == "line" {
		f = f[1:]
	}
	if len(f) < 2 || !strings.HasPrefix(f[1], `"`) {
		return false, false
	}
	if _, err := strconv.Atoi(f[0]); err != nil {
		return false, false
	}
	// The file name may contain spaces: the flags follow its closing quote.
	rest := s[strings.Index(s, `"`)+1:]
	for k := 0; k < len(rest); k++ {
		if rest[k] == '\\' {
			k++
			continue
		}
		if rest[k] == '"' {
			for _, fl := range strings.Fields(rest[k+1:]) {
				if fl == "3" {
					return true, true
				}
			}
			return false, true
		}
	}
	return false, true
}

// fn is a function the unit declares or defines at file scope.
type fn struct {
	name     string
	params   []string // parameter names ("" unknown); "..." for the ellipsis
	variadic bool
	vaList   bool // a parameter's type is a va_list (a forwarder may take one)
	attrM    int  // format(printf, m, n): m, 0 for none
	attrN    int
	body     [2]int // token range of the body, inside the braces; body[1] == 0: none
	sys      bool
}

// role of a function for the rewrite.
type role struct {
	fmtIdx   int  // 0-based index of the format parameter
	argsFrom int  // helpers: index of the first variadic argument
	helper   bool // else a forwarder (or a v*printf function)
	wide     bool
	vprintf  bool // the C library's v*printf function itself
}

var notDeclarators = map[string]bool{
	"__attribute__": true, "__attribute": true, "__asm__": true, "__asm": true, "asm": true,
	"__typeof__": true, "__typeof": true, "typeof": true, "_Alignas": true, "__extension__": true,
	"_Static_assert": true, "__declspec": true, "sizeof": true, "_Alignof": true, "__alignof__": true,
}

// specifiers are the C keywords that may stand before a parenthesised
// declarator (void (*fp)(const char *, ...)): never a function's name.
var specifiers = map[string]bool{
	"void": true, "char": true, "short": true, "int": true, "long": true, "float": true, "double": true,
	"signed": true, "unsigned": true, "_Bool": true, "_Complex": true, "const": true, "volatile": true,
	"restrict": true, "static": true, "extern": true, "inline": true, "register": true, "auto": true,
	"typedef": true, "_Noreturn": true, "_Thread_local": true, "__thread": true, "__inline": true,
	"__inline__": true, "__restrict": true, "__restrict__": true, "__const": true, "__signed__": true,
	"__volatile__": true, "__volatile": true, "struct": true, "union": true, "enum": true, "return": true,
	"if": true, "while": true, "for": true, "switch": true, "do": true, "else": true, "case": true,
	"goto": true, "default": true, "break": true, "continue": true,
}

type unit struct {
	src   []byte
	toks  []tok
	fns   []fn
	roles map[string]role
	seq   int
	st    Stats
	// C++: the unit declares __immunix_fg_hpass and __immunix_fg_cnt
	// (the FormatGuard header, C++11 for the second).
	cxx, hpass, cnt bool
}

func (u *unit) text(t tok) string { return string(u.src[t.s:t.e]) }

func (u *unit) is(i int, s string) bool {
	return i >= 0 && i < len(u.toks) && u.toks[i].kind == 'p' && u.text(u.toks[i]) == s
}

// match returns the index of the token closing the bracket at i.
func (u *unit) match(i int) int {
	depth := 0
	for j := i; j < len(u.toks); j++ {
		if u.toks[j].kind != 'p' {
			continue
		}
		switch u.text(u.toks[j]) {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// split returns the token ranges of the comma-separated items in (i, j).
func (u *unit) split(i, j int) [][2]int {
	var out [][2]int
	if i+1 == j {
		return nil
	}
	start := i + 1
	depth := 0
	for k := i + 1; k < j; k++ {
		if u.toks[k].kind != 'p' {
			continue
		}
		switch u.text(u.toks[k]) {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, [2]int{start, k})
				start = k + 1
			}
		}
	}
	return append(out, [2]int{start, j})
}

// scanTop reads the file-scope declarations and definitions.
func (u *unit) scanTop() {
	start := 0
	for i := 0; i < len(u.toks); i++ {
		t := u.toks[i]
		if t.kind != 'p' {
			continue
		}
		switch u.text(t) {
		case "(", "[":
			if j := u.match(i); j > 0 {
				i = j
			}
		case ";":
			u.declaration(start, i, -1)
			start = i + 1
		case "}":
			start = i + 1 // the end of a namespace or linkage block
		case "{":
			j := u.match(i)
			if j < 0 {
				return
			}
			if u.cxx && u.opensScope(start, i) {
				// C++: the functions of a namespace and of an extern "C"
				// block are read as those at file scope.
				start = i + 1
				continue
			}
			if u.is(i-1, ")") {
				u.declaration(start, i, j)
				start = j + 1
			}
			i = j
		}
	}
}

// opensScope reports whether tokens [s, e) before a '{' open a C++
// namespace (namespace, inline namespace, nested names, anonymous) or a
// linkage block (extern "C").
func (u *unit) opensScope(s, e int) bool {
	switch {
	case e-s == 2 && u.toks[s].kind == 'i' && u.text(u.toks[s]) == "extern" && u.toks[s+1].kind == 's':
		return true
	case e > s && u.toks[s].kind == 'i' && u.text(u.toks[s]) == "inline":
		s++
	}
	if s >= e || u.toks[s].kind != 'i' || u.text(u.toks[s]) != "namespace" {
		return false
	}
	for k := s + 1; k < e; k++ {
		if u.toks[k].kind != 'i' && !u.is(k, ":") {
			return false
		}
	}
	return true
}

// declaration reads tokens [s, e) of a declaration; body is the index of
// the closing brace of a definition's body (opening brace at e), or -1.
func (u *unit) declaration(s, e, body int) {
	var f fn
	found := false
	for i := s; i < e; i++ {
		t := u.toks[i]
		if t.kind != 'i' {
			if u.is(i, "(") {
				if j := u.match(i); j > 0 && j < e {
					if found {
						i = j
					}
				}
			}
			continue
		}
		name := u.text(t)
		if notDeclarators[name] {
			if u.is(i+1, "(") {
				if j := u.match(i + 1); j > 0 {
					u.attribute(&f, i+1, j)
					i = j
				}
			}
			continue
		}
		if !found && u.is(i+1, "(") {
			open := i + 1
			if specifiers[name] {
				// A parenthesised declarator: T (*name)(params), a
				// pointer to a function whose calls are made by its name,
				// or T (name)(params). The keyword is never the name.
				k := u.match(open)
				if k < 0 || k+1 >= e || !u.is(k+1, "(") {
					return
				}
				name = ""
				for m := open + 1; m < k; m++ {
					if u.toks[m].kind == 'i' && !specifiers[u.text(u.toks[m])] && !notDeclarators[u.text(u.toks[m])] {
						name, t = u.text(u.toks[m]), u.toks[m]
					}
				}
				if name == "" {
					return
				}
				open = k + 1
			}
			j := u.match(open)
			if j < 0 || j >= e {
				return
			}
			f.name, f.sys = name, t.sys
			for _, r := range u.split(open, j) {
				p := ""
				depth := 0
				for k := r[0]; k < r[1]; k++ {
					switch {
					case u.toks[k].kind == 'p' && strings.Contains("([", u.text(u.toks[k])):
						depth++
					case u.toks[k].kind == 'p' && strings.Contains(")]", u.text(u.toks[k])):
						depth--
					case u.toks[k].kind == 'p' && u.text(u.toks[k]) == "...":
						p = "..."
					case u.toks[k].kind == 'i' && depth == 0 && !notDeclarators[u.text(u.toks[k])]:
						p = u.text(u.toks[k])
						if strings.HasSuffix(p, "va_list") {
							f.vaList = true
						}
					}
				}
				f.params = append(f.params, p)
			}
			f.variadic = len(f.params) > 0 && f.params[len(f.params)-1] == "..."
			found = true
			i = j
		}
	}
	if !found {
		return
	}
	if body >= 0 {
		f.body = [2]int{e + 1, body}
	}
	u.fns = append(u.fns, f)
}

// attribute reads format(printf, m, n) in the parentheses (i, j).
func (u *unit) attribute(f *fn, i, j int) {
	for k := i; k < j; k++ {
		if u.toks[k].kind != 'i' {
			continue
		}
		switch u.text(u.toks[k]) {
		case "format", "__format__":
		default:
			continue
		}
		if !u.is(k+1, "(") {
			continue
		}
		end := u.match(k + 1)
		if end < 0 {
			return
		}
		items := u.split(k+1, end)
		if len(items) != 3 || items[0][1]-items[0][0] != 1 || items[1][1]-items[1][0] != 1 || items[2][1]-items[2][0] != 1 {
			continue
		}
		switch u.text(u.toks[items[0][0]]) {
		case "printf", "__printf__", "gnu_printf", "__gnu_printf__":
		default:
			continue
		}
		m, err1 := strconv.Atoi(u.text(u.toks[items[1][0]]))
		n, err2 := strconv.Atoi(u.text(u.toks[items[2][0]]))
		if err1 == nil && err2 == nil && m > 0 && n >= 0 {
			f.attrM, f.attrN = m, n
		}
	}
}

// roles decides the helpers and forwarders, to a fixed point.
func (u *unit) decide() {
	u.roles = map[string]role{}
	for _, f := range formatguard.Functions {
		if f.VaList && !strings.HasPrefix(f.Name, "__") {
			u.roles[f.Name] = role{fmtIdx: f.FormatIndex, wide: f.Wide, vprintf: true}
		}
	}
	for _, f := range u.fns {
		if f.sys || f.attrM == 0 {
			continue
		}
		if _, known := formatguard.Lookup(f.name); known {
			continue
		}
		if f.attrN == 0 {
			u.roles[f.name] = role{fmtIdx: f.attrM - 1}
		} else if f.attrN > f.attrM {
			u.roles[f.name] = role{fmtIdx: f.attrM - 1, argsFrom: f.attrN - 1, helper: true}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, f := range u.fns {
			if f.sys || f.body[1] == 0 {
				continue
			}
			if _, done := u.roles[f.name]; done {
				continue
			}
			if r, ok := u.forwards(f); ok {
				u.roles[f.name] = r
				changed = true
			}
		}
	}
	for _, f := range u.fns {
		if r, ok := u.roles[f.name]; ok && !r.vprintf && !f.sys && !contains(u.st.Helpers, f.name) && !contains(u.st.Forwarders, f.name) {
			if r.helper {
				u.st.Helpers = append(u.st.Helpers, f.name)
			} else {
				u.st.Forwarders = append(u.st.Forwarders, f.name)
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// forwards reports whether the body of f passes one of its parameters as
// the format of a known v*printf function or forwarder.
func (u *unit) forwards(f fn) (role, bool) {
	for i := f.body[0]; i < f.body[1]; i++ {
		t := u.toks[i]
		if t.kind != 'i' || !u.is(i+1, "(") || u.is(i-1, ".") || u.is(i-1, "->") {
			continue
		}
		r, ok := u.roles[u.text(t)]
		if !ok || r.helper {
			continue
		}
		j := u.match(i + 1)
		if j < 0 {
			continue
		}
		args := u.split(i+1, j)
		if r.fmtIdx >= len(args) || args[r.fmtIdx][1]-args[r.fmtIdx][0] != 1 {
			continue
		}
		name := u.text(u.toks[args[r.fmtIdx][0]])
		for k, p := range f.params {
			if p == name && p != "" && p != "..." {
				if f.variadic {
					return role{fmtIdx: k, argsFrom: len(f.params) - 1, helper: true, wide: r.wide}, true
				}
				if f.vaList {
					return role{fmtIdx: k, wide: r.wide}, true
				}
			}
		}
	}
	return role{}, false
}

// literal reports whether tokens [s, e) are only string literals.
func (u *unit) literal(s, e int) bool {
	if s >= e {
		return false
	}
	for k := s; k < e; k++ {
		if u.toks[k].kind != 's' {
			return false
		}
	}
	return true
}

// Rewrite returns the preprocessed C text src with its helper calls and,
// in a unit that defines a helper or forwarder, its v*printf calls
// rewritten. With nothing to do it returns src itself and zero Stats.
func Rewrite(src []byte) ([]byte, Stats, error) {
	return rewriteUnit(src, false)
}

// RewriteCXX is Rewrite for a preprocessed C++ unit. A helper call's format
// goes through __immunix_fg_hpass, whose overloads (the FormatGuard header)
// store a (const) char pointer and hand anything else back, so a call of a
// same-named overload that takes no format still compiles; the count and
// classes come from the header's __immunix_fg_cnt (C++11: a pack expansion
// counts as its real size), else the count alone. The runtime's functions
// are declared by the header with C linkage (a block-scope declaration
// would have C++ linkage). A unit that does not include the FormatGuard
// header is left as it is.
func RewriteCXX(src []byte) ([]byte, Stats, error) {
	return rewriteUnit(src, true)
}

func rewriteUnit(src []byte, cxx bool) ([]byte, Stats, error) {
	toks, err := lex(src)
	if err != nil {
		return src, Stats{}, fmt.Errorf("read the preprocessed unit: %w", err)
	}
	u := &unit{src: src, toks: toks, cxx: cxx}
	if cxx {
		for _, t := range toks {
			if t.kind == 'i' {
				switch u.text(t) {
				case "__immunix_fg_hpass":
					u.hpass = true
				case "__immunix_fg_cnt":
					u.cnt = true
				}
			}
		}
		if !u.hpass {
			return src, Stats{}, nil
		}
	}
	u.scanTop()
	u.decide()
	defines := false
	for _, f := range u.fns {
		if f.body[1] != 0 && !f.sys && (contains(u.st.Helpers, f.name) || contains(u.st.Forwarders, f.name)) {
			defines = true
		}
	}
	var b strings.Builder
	last := 0
	for _, f := range u.fns {
		if f.sys || f.body[1] == 0 || f.body[0] > f.body[1] {
			continue
		}
		b.Write(src[last:u.toks[f.body[0]-1].e])
		b.WriteString(u.rewrite(f.body[0], f.body[1], defines))
		last = u.toks[f.body[1]].s
	}
	if !u.st.Changed() {
		return src, u.st, nil
	}
	b.Write(src[last:])
	return []byte(b.String()), u.st, nil
}

// rewrite returns the text between token s-1 and token e (the bytes after
// the one and before the other) with the calls rewritten.
func (u *unit) rewrite(s, e int, defines bool) string {
	var b strings.Builder
	pos := u.toks[s-1].e
	for i := s; i < e; i++ {
		t := u.toks[i]
		// The called function: its name, or a parenthesised expression
		// whose value it is (gawk's fatal macro); open is the bracket of
		// the argument list.
		name, callee, open, from := "", "", i+1, i
		switch {
		case t.kind == 'i' && !t.sys && u.is(i+1, "(") && !u.is(i-1, ".") && !u.is(i-1, "->"):
			name, callee = u.text(t), u.text(t)
			if u.is(i-1, ":") && u.is(i-2, ":") {
				// C++: a qualified name (a::b::log_msg, ::log_msg) is the
				// callee as a whole; after a template's '>' or a member
				// access it is left alone.
				q, ok := u.qualified(i, s)
				if !ok {
					continue
				}
				from, callee = q, string(u.src[u.toks[q].s:t.e])
			}
		case t.kind == 'p' && !t.sys:
			id, end, ok := u.parenCallee(i, e)
			if !ok {
				continue
			}
			name, open = u.text(u.toks[id]), end+1
			if r, ok := u.roles[name]; !ok || !r.helper {
				continue
			}
			callee = "(" + u.rewrite(i+1, end, defines) + ")"
		default:
			continue
		}
		r, ok := u.roles[name]
		if !ok || !(r.helper || r.vprintf && defines) {
			continue
		}
		j := u.match(open)
		if j < 0 || j >= e {
			continue
		}
		args := u.split(open, j)
		if r.fmtIdx >= len(args) || u.literal(args[r.fmtIdx][0], args[r.fmtIdx][1]) {
			continue
		}
		if r.helper && (r.argsFrom > len(args) || len(args)-r.argsFrom > 127) {
			continue
		}
		texts := make([]string, len(args))
		for k, a := range args {
			texts[k] = u.rewrite(a[0], a[1], defines)
		}
		b.WriteString(string(u.src[pos:u.toks[from].s]))
		if r.helper {
			b.WriteString(u.helperCall(callee, r, texts))
			u.st.Calls++
		} else {
			b.WriteString(u.vCall(callee, u.text(t), r, texts))
			u.st.VCalls++
		}
		pos = u.toks[j].e
		i = j
	}
	b.WriteString(string(u.src[pos:u.toks[e].s]))
	return b.String()
}

// parenCallee reports whether the bracket at i opens a parenthesised
// expression whose value is the function one identifier names, called
// at once: (h)(...), (*h)(...), (x, h)(...) and gawk's
// (*(set_loc(__FILE__, __LINE__), r_fatal))(...), which its fatal macro
// expands to. It returns the identifier's token and the group's closing
// bracket. The group must start an expression: after an identifier, a
// ')' or a ']' the bracket is an argument list (f(x)(h)(s) calls what
// f(x) returns with h), except after the condition of if, while, for
// and switch and after return, else and do.
func (u *unit) parenCallee(i, e int) (id, end int, ok bool) {
	if !u.is(i, "(") || !u.startsExpr(i) {
		return 0, 0, false
	}
	end = u.match(i)
	if end < 0 || end+1 >= e || !u.is(end+1, "(") {
		return 0, 0, false
	}
	s, k := i, end
	for depth := 0; depth < 16; depth++ {
		last := s + 1
		for p := s + 1; p < k; p++ {
			switch {
			case u.is(p, "("), u.is(p, "["), u.is(p, "{"):
				m := u.match(p)
				if m < 0 || m >= k {
					return 0, 0, false
				}
				p = m
			case u.is(p, ","):
				last = p + 1
			}
		}
		for last < k && u.is(last, "*") {
			last++
		}
		switch {
		case last == k-1 && u.toks[last].kind == 'i' && !u.toks[last].sys:
			return last, end, true
		case u.is(last, "(") && u.match(last) == k-1:
			s, k = last, k-1
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// qualified returns the first token of the qualified name that ends with
// the identifier at i (a::b::f, ::f), not before token s; ok is false when
// the qualifier is not made of plain names (A<int>::f, x.A::f).
func (u *unit) qualified(i, s int) (int, bool) {
	q := i
	for q-2 >= s && u.is(q-1, ":") && u.is(q-2, ":") {
		q -= 2
		if q-1 >= s && u.toks[q-1].kind == 'i' && !u.toks[q-1].sys {
			q--
		} else {
			break
		}
	}
	if q == i || u.is(q-1, ":") || u.is(q-1, ">") || u.is(q-1, ".") || u.is(q-1, "->") {
		return 0, false
	}
	if q-1 >= 0 && u.toks[q-1].kind == 'i' {
		if w := u.text(u.toks[q-1]); w != "return" && w != "else" && w != "do" {
			return 0, false // template, typename, a type: not a call
		}
	}
	return q, true
}

// startsExpr reports whether the bracket at i cannot be an argument list.
func (u *unit) startsExpr(i int) bool {
	if i == 0 {
		return true
	}
	p := u.toks[i-1]
	switch {
	case p.kind == 'i':
		w := u.text(p)
		return w == "return" || w == "else" || w == "do"
	case u.is(i-1, "]"):
		return false
	case u.is(i-1, ")"):
		// the condition of if (c) (h)(s): find its opening bracket
		depth := 0
		for j := i - 1; j >= 0; j-- {
			if u.toks[j].kind != 'p' {
				continue
			}
			switch u.text(u.toks[j]) {
			case ")", "]", "}":
				depth++
			case "(", "[", "{":
				depth--
			}
			if depth == 0 {
				if j == 0 || u.toks[j-1].kind != 'i' {
					return false
				}
				w := u.text(u.toks[j-1])
				return w == "if" || w == "while" || w == "for" || w == "switch"
			}
		}
		return false
	}
	return p.kind == 'p'
}

// flat is a copy of an argument for an unevaluated context: on one line,
// without its line markers, so the lines after it keep their numbers.
func flat(a string) string {
	lines := strings.Split(a, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), "#") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, " ")
}

// classOf is the class (fg_class.h) of an argument, not evaluating it:
// long double 4, double and float 3 (_Generic), integer 1 and pointer 2
// from __builtin_classify_type (1-4 integer, char, enum, bool; 5 pointer,
// read from a table), anything else 0.
func classOf(a string) string {
	return "(__extension__ _Generic((" + a + "), long double: 4u, double: 3u, float: 3u, default: 0u) | (unsigned int) ((0x211110ULL >> (4 * (__builtin_classify_type (" + a + ") & 15))) & 15))"
}

func (u *unit) helperCall(name string, r role, args []string) string {
	u.seq++
	n := len(args) - r.argsFrom
	count := strconv.Itoa(n) + "u"
	switch {
	case u.cxx && u.cnt:
		va := make([]string, n)
		for k := range va {
			va[k] = flat(args[r.argsFrom+k])
		}
		count = "static_cast<unsigned int> (sizeof (::__immunix_fg_cnt (" + strings.Join(va, ", ") + ")) - 1)"
	case !u.cxx:
		for k := 0; k < n && k < 8; k++ {
			count += " | " + classOf(flat(args[r.argsFrom+k])) + " << " + strconv.Itoa(7+3*k)
		}
	}
	v := "__immunix_fg_h" + strconv.Itoa(u.seq)
	out := make([]string, len(args))
	copy(out, args)
	f := args[r.fmtIdx]
	decl := "" // C++: the FormatGuard header declares them
	if !u.cxx {
		decl = "extern void __immunix_fg_hsave (void **); extern void __immunix_fg_hrestore (void *(*)[2]); "
	}
	if u.cxx {
		pass := "::__immunix_fg_hpass"
		if r.wide {
			pass = "::__immunix_fg_hwpass"
		}
		out[r.fmtIdx] = pass + " (" + count + ", " + f + ")"
	} else {
		ch, set, attr := "char", "__immunix_fg_hset", " __attribute__ ((__format_arg__ (2)))"
		if r.wide {
			ch, set, attr = "__typeof__ (L'\\0')", "__immunix_fg_hwset", ""
		}
		out[r.fmtIdx] = "(__typeof__ ((" + flat(f) + ") + 0)) " + set + " (" + count + ", " + f + ")"
		decl += "extern const " + ch + " *" + set + " (unsigned int, const " + ch + " *)" + attr + "; "
	}
	return "__extension__ ({ " + decl +
		"void *" + v + "[2] __attribute__ ((__cleanup__ (__immunix_fg_hrestore))); __immunix_fg_hsave (" + v + "); " +
		name + " (" + strings.Join(out, ",") + "); })"
}

func (u *unit) vCall(callee, name string, r role, args []string) string {
	ch := "char"
	if r.wide {
		ch = "__typeof__ (L'\\0')"
	}
	out := make([]string, len(args))
	copy(out, args)
	c := "__immunix_fg_" + name
	if u.cxx {
		// declared by the FormatGuard header (extern "C")
		out[r.fmtIdx] = " ::" + c + " (" + args[r.fmtIdx] + ")"
		return callee + " (" + strings.Join(out, ",") + ")"
	}
	out[r.fmtIdx] = " __extension__ ({ extern const " + ch + " *" + c + " (const " + ch + " *); " + c + " (" + args[r.fmtIdx] + "); })"
	return callee + " (" + strings.Join(out, ",") + ")"
}
