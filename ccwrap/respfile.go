package ccwrap

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxResponseExpansions bounds @file expansion, as libiberty's expandargv
// does, so a file that names itself is an error rather than a hang.
const maxResponseExpansions = 2000

// ErrResponseFile wraps every failure to read or expand an @file.
var ErrResponseFile = codedError(ExitRespFile, "response file")

// ExpandResponseFiles replaces every "@FILE" argument by the arguments
// FILE holds, recursively, split with GCC's rules (SplitResponseFile). A
// nested @file name is relative to the working directory, as in GCC; when it
// cannot be read so, the including file's directory is tried, as clang does.
// Unlike gcc, which keeps an unreadable "@FILE" as a literal input name,
// this is an error: the wrapper cannot classify what it cannot read.
func ExpandResponseFiles(args []string, readFile func(string) ([]byte, error)) ([]string, error) {
	type item struct {
		arg  string
		from string // the response file it came from, "" for argv
	}
	var pending []item
	hasAt := false
	for _, a := range args {
		if len(a) > 1 && a[0] == '@' {
			hasAt = true
			break
		}
	}
	if !hasAt {
		return args, nil
	}
	for _, a := range args {
		pending = append(pending, item{arg: a})
	}
	out := make([]string, 0, len(args))
	expansions := 0
	for len(pending) > 0 {
		it := pending[0]
		pending = pending[1:]
		if len(it.arg) < 2 || it.arg[0] != '@' {
			out = append(out, it.arg)
			continue
		}
		expansions++
		if expansions > maxResponseExpansions {
			return nil, fmt.Errorf("%w %s: more than %d nested @files (does it include itself?)", ErrResponseFile, it.arg, maxResponseExpansions)
		}
		name := it.arg[1:]
		data, err := readFile(name)
		if err != nil && it.from != "" && !filepath.IsAbs(name) {
			alt := filepath.Join(filepath.Dir(it.from), name)
			if d2, err2 := readFile(alt); err2 == nil {
				data, err, name = d2, nil, alt
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrResponseFile, it.arg, err)
		}
		words := SplitResponseFile(string(data))
		items := make([]item, 0, len(words)+len(pending))
		for _, w := range words {
			items = append(items, item{arg: w, from: name})
		}
		pending = append(items, pending...)
	}
	return out, nil
}

// SplitResponseFile splits the text of a response file into arguments with
// the rules of libiberty's buildargv, which gcc uses: arguments are separated
// by white space; single or double quotes group (and may produce an empty
// argument); a backslash takes the next character literally, inside quotes
// too. A file of only white space holds no arguments.
func SplitResponseFile(s string) []string {
	var out []string
	isSpace := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
	}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out
		}
		var b strings.Builder
		squote, dquote, bsquote := false, false, false
		for ; i < len(s); i++ {
			c := s[i]
			if isSpace(c) && !squote && !dquote && !bsquote {
				break
			}
			switch {
			case bsquote:
				bsquote = false
				b.WriteByte(c)
			case c == '\\':
				bsquote = true
			case squote:
				if c == '\'' {
					squote = false
				} else {
					b.WriteByte(c)
				}
			case dquote:
				if c == '"' {
					dquote = false
				} else {
					b.WriteByte(c)
				}
			case c == '\'':
				squote = true
			case c == '"':
				dquote = true
			default:
				b.WriteByte(c)
			}
		}
		out = append(out, b.String())
	}
}
