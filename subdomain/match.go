package subdomain

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Variables a pattern may use, with the text they match.
var Variables = map[string]string{
	"pid":  "a process or thread ID (1-99999999)",
	"HOME": "a home directory: /home/NAME or /root",
}

var matchCache sync.Map // pattern -> *regexp.Regexp (nil when invalid)

// HasGlob reports whether pattern contains glob characters or variables.
func HasGlob(pattern string) bool {
	return strings.ContainsAny(pattern, "*?{[") || strings.Contains(pattern, "@{")
}

// Match reports whether path matches pattern. Patterns use AppArmor's
// globbing: * matches within one path component, ** across components,
// ? one character, {a,b} alternatives, @{pid} and @{HOME} variables. An
// invalid pattern matches nothing.
func Match(pattern, path string) bool {
	if !HasGlob(pattern) {
		return pattern == path
	}
	v, ok := matchCache.Load(pattern)
	if !ok {
		re, err := compileGlob(pattern)
		if err != nil {
			re = nil
		}
		v, _ = matchCache.LoadOrStore(pattern, re)
	}
	re := v.(*regexp.Regexp)
	return re != nil && re.MatchString(path)
}

// CheckPattern reports whether pattern is a valid path pattern, and where
// (byte offset) it goes wrong.
func CheckPattern(pattern string) (int, error) {
	if !strings.HasPrefix(pattern, "/") && !strings.HasPrefix(pattern, "@{") {
		return 0, fmt.Errorf("path %q is not absolute", pattern)
	}
	if i := strings.IndexByte(pattern, 0); i >= 0 {
		return i, fmt.Errorf("path contains a NUL byte")
	}
	// Only the translation: compiling the regular expression (which the
	// translation always makes valid) would cost immunix run's start-up
	// about 20 us per rule, and enforcing needs no matching.
	_, err := globSource(pattern)
	if err != nil {
		if pe, ok := err.(*patternError); ok {
			return pe.off, pe
		}
		return 0, err
	}
	return 0, nil
}

type patternError struct {
	off int
	msg string
}

func (e *patternError) Error() string { return e.msg }

func compileGlob(pattern string) (*regexp.Regexp, error) {
	src, err := globSource(pattern)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(src)
}

// globSource translates pattern into an anchored regular expression.
func globSource(pattern string) (string, error) {
	var b strings.Builder
	b.WriteString(`^`)
	depth := 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(`.*`)
				for i+1 < len(pattern) && pattern[i+1] == '*' {
					i++
				}
			} else {
				b.WriteString(`[^/]*`)
			}
		case '?':
			b.WriteString(`[^/]`)
		case '{':
			depth++
			b.WriteString(`(?:`)
		case ',':
			if depth > 0 {
				b.WriteString(`|`)
			} else {
				b.WriteString(`,`)
			}
		case '}':
			if depth == 0 {
				return "", &patternError{i, "unbalanced '}' in pattern"}
			}
			depth--
			b.WriteString(`)`)
		case '[':
			return "", &patternError{i, "character classes [...] are not supported in patterns"}
		case '@':
			if i+1 < len(pattern) && pattern[i+1] == '{' {
				end := strings.IndexByte(pattern[i:], '}')
				if end < 0 {
					return "", &patternError{i, "unterminated variable @{...}"}
				}
				name := pattern[i+2 : i+end]
				switch name {
				case "pid":
					b.WriteString(`[1-9][0-9]{0,7}`)
				case "HOME":
					b.WriteString(`(?:/home/[^/]+|/root)`)
				default:
					return "", &patternError{i, fmt.Sprintf("unknown variable @{%s} (known: @{pid}, @{HOME})", name)}
				}
				i += end
				continue
			}
			b.WriteString(regexp.QuoteMeta(string(c)))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return "", &patternError{len(pattern), "unbalanced '{' in pattern"}
	}
	b.WriteString(`$`)
	return b.String(), nil
}

// GlobBase returns the longest directory prefix of pattern that contains
// no glob: the directory a Landlock rule for the pattern must be put on.
// For a literal path it returns the path itself.
func GlobBase(pattern string) string {
	if strings.HasPrefix(pattern, "@{HOME}") {
		return "/"
	}
	i := strings.IndexAny(pattern, "*?{")
	if j := strings.Index(pattern, "@{"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return pattern
	}
	base := pattern[:i]
	if k := strings.LastIndexByte(base, '/'); k >= 0 {
		base = base[:k]
	}
	if base == "" {
		return "/"
	}
	return base
}
