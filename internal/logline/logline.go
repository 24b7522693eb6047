// Package logline owns the text format of an IMMUNIX_LOG line: one line of
// space-separated key=value fields, a value that would not be one token
// written as a Go-quoted string (strconv.Quote). immunix-cc writes it
// (ccwrap); tests and tools read it back with Parse, never by splitting on
// spaces, so a path with a space or a note with "=" reads back unchanged.
package logline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Field is one key=value pair of a line, in the order written.
type Field struct{ Key, Value string }

// Value returns s as it is written after "key=": bare when it is one
// printable ASCII token without quotes, backslashes or '=', quoted otherwise
// (the empty string too).
func Value(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsAny(s, " \t\n\"\\=") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return strconv.Quote(s)
	}
	return s
}

// Encode writes fields as one line, without the trailing newline. Keys
// must be non-empty tokens of letters, digits, '-' and '_'.
func Encode(fields []Field) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(Value(f.Value))
	}
	return b.String()
}

// ErrSyntax is wrapped by every Parse error.
var ErrSyntax = errors.New("not an IMMUNIX_LOG line")

// Parse reads one line (a trailing newline is allowed) back into its fields.
func Parse(line string) ([]Field, error) {
	line = strings.TrimSuffix(line, "\n")
	var out []Field
	rest := line
	for {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return out, nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || strings.ContainsAny(rest[:eq], " \"") {
			return nil, fmt.Errorf("%w: field %q has no key=", ErrSyntax, cut(rest))
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("%w: value of %s: unterminated or bad quoting", ErrSyntax, key)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
			if rest != "" && rest[0] != ' ' {
				return nil, fmt.Errorf("%w: value of %s: text after the closing quote", ErrSyntax, key)
			}
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		out = append(out, Field{key, val})
	}
}

// Get returns the value of the first field named key.
func Get(fields []Field, key string) (string, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
