package learn

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// The lexer of strace's output: arguments, strings, fd annotations and
// return values. It works on the line's bytes and allocates only the
// strings it returns.

func isIdent(b []byte) bool {
	for _, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return len(b) > 0
}

// fdPath returns the -y annotation of an fd argument: "3</etc/x>" gives
// "/etc/x".
func fdPath(arg []byte) (string, bool) {
	i := bytes.IndexByte(arg, '<')
	if i < 0 || arg[len(arg)-1] != '>' {
		return "", false
	}
	s, ok := unquote(arg[i+1:len(arg)-1], false)
	if !ok || !strings.HasPrefix(s, "/") || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	return s, true
}

// parseRet reads " = RET[<ann>] [ERRNO (text)]" after the arguments.
func (p *Parser) parseRet(b []byte) (ret []byte, errname string, ann []byte, ok bool) {
	i := bytes.Index(b, []byte("= "))
	if i < 0 {
		return nil, "", nil, false
	}
	b = b[i+2:]
	end := 0
	for end < len(b) && b[end] != ' ' && b[end] != '<' {
		end++
	}
	ret = b[:end]
	if end < len(b) && b[end] == '<' {
		// annotation up to the matching '>' (paths have '<' and '>' escaped)
		j := bytes.IndexByte(b[end:], '>')
		if j > 0 {
			ann = b[end+1 : end+j]
		}
	}
	if string(ret) == "-1" {
		rest := bytes.TrimLeft(b[end:], " ")
		k := 0
		for k < len(rest) && rest[k] != ' ' {
			k++
		}
		errname = p.intern(rest[:k])
		if errname == "" {
			errname = "EUNKNOWN"
		}
	}
	return ret, errname, ann, true
}

// intern returns b as a string, allocated once per distinct value.
func (p *Parser) intern(b []byte) string {
	if s, ok := p.errnames[string(b)]; ok {
		return s
	}
	if p.errnames == nil {
		p.errnames = map[string]string{}
	}
	if len(p.errnames) > 1000 {
		return string(b)
	}
	s := string(b)
	p.errnames[s] = s
	return s
}

// splitArgs splits the text after "name(" into top-level arguments,
// returning the count and the text after the closing parenthesis.
var argSpecial = func() (t [256]bool) {
	for _, c := range []byte(`"([{]})<,/`) {
		t[c] = true
	}
	return
}()

func splitArgs(b []byte, out [][]byte) (int, []byte, bool) {
	n := 0
	start := 0
	depth := 0
	for i := 0; i < len(b); i++ {
		if !argSpecial[b[i]] {
			continue
		}
		switch b[i] {
		case '"':
			e := quotedEnd(b[i:])
			if e < 0 {
				return n, nil, false
			}
			i += e - 1
		case '(', '[', '{':
			depth++
		case ']', '}':
			depth--
		case '<':
			// fd annotation: skip to '>' (escaped inside)
			if j := bytes.IndexByte(b[i:], '>'); j >= 0 {
				i += j
			}
		case '/':
			if i+1 < len(b) && b[i+1] == '*' {
				if j := bytes.Index(b[i:], []byte("*/")); j >= 0 {
					i += j + 1
				}
			}
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			if n < len(out) {
				out[n] = bytes.TrimSpace(b[start:i])
				if len(out[n]) > 0 || n > 0 {
					n++
				}
			}
			return n, b[i+1:], true
		case ',':
			if depth == 0 {
				if n < len(out) {
					out[n] = bytes.TrimSpace(b[start:i])
					n++
				}
				start = i + 1
				if n == len(out) {
					// The arguments needed are in. When the rest holds no
					// string and no fd annotation (no text the program
					// chose), the call's end is the last ") = ".
					rest := b[i+1:]
					if bytes.IndexByte(rest, '"') < 0 && bytes.IndexByte(rest, '<') < 0 {
						if j := bytes.LastIndex(rest, []byte(") = ")); j >= 0 {
							return n, rest[j+1:], true
						}
					}
				}
			}
		}
	}
	return n, nil, false
}

// quotedEnd returns the length of the quoted string at the start of b
// (including both quotes), or -1. A string cut by strace's -s limit
// ("..."...) is reported as its quoted part; unquote rejects it.
func quotedEnd(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			if i+3 < len(b) && b[i+1] == '.' && b[i+2] == '.' && b[i+3] == '.' {
				return i + 4
			}
			return i + 1
		}
	}
	return -1
}

// unquote decodes a strace string: with quotes when quoted is true (and
// then rejects a string cut short by -s), or the bare text of a -y
// annotation. Escapes: \" \\ \n \t \r \v \f \a \b, octal \NNN, hex \xNN.
func unquote(b []byte, quoted bool) (string, bool) {
	if quoted {
		if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
			return "", false
		}
		b = b[1 : len(b)-1]
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", false
		}
		switch c := b[i]; c {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'v':
			out = append(out, '\v')
		case 'f':
			out = append(out, '\f')
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'x':
			if i+2 >= len(b) {
				return "", false
			}
			var v [1]byte
			if _, err := hex.Decode(v[:], b[i+1:i+3]); err != nil {
				return "", false
			}
			out = append(out, v[0])
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := 0
			k := 0
			for k < 3 && i+k < len(b) && b[i+k] >= '0' && b[i+k] <= '7' {
				v = v*8 + int(b[i+k]-'0')
				k++
			}
			if v > 255 {
				return "", false
			}
			out = append(out, byte(v))
			i += k - 1
		default:
			out = append(out, c)
		}
	}
	return string(out), true
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}
