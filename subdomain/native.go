package subdomain

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ParseError is a syntax error in a profile, with its position.
type ParseError struct {
	Pos Pos
	Msg string
}

func (e *ParseError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Load reads and parses the profile file at path.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a profile in SubDomain syntax. name is used in error
// positions ("name:line:col: ...").
//
//	# /usr/sbin/ntpd 1
//	/etc/ntp.conf r
//	/tmp/* rwc
//	/usr/lib/x86_64-linux-gnu/libc.so.* rm
//	/usr/lib/ntp/helper px {
//		/etc/ntp.keys r
//	}
//	network tcp bind 123
//	syscall settimeofday
func Parse(name string, data []byte) (*Profile, error) {
	p := &parser{name: name}
	return p.parse(data)
}

type parser struct {
	name string
	line int
}

func (p *parser) errf(col int, format string, args ...any) error {
	return &ParseError{Pos: Pos{File: p.name, Line: p.line, Col: col}, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse(data []byte) (*Profile, error) {
	top := &Profile{}
	stack := []*Profile{top}
	openPos := []Pos{{}}
	sawHeader := false
	for len(data) > 0 || p.line == 0 {
		p.line++
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		col := 1
		for col <= len(raw) && (raw[col-1] == ' ' || raw[col-1] == '\t') {
			col++
		}
		line := raw[col-1:]
		if p.line == 1 {
			if err := p.header(top, line); err != nil {
				return nil, err
			}
			sawHeader = true
			continue
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		cur := stack[len(stack)-1]
		toks, err := p.tokens(line, col)
		if err != nil {
			return nil, err
		}
		switch t := toks[0]; {
		case !t.quoted && t.text == "}":
			if len(toks) > 1 {
				return nil, p.errf(toks[1].col, "unexpected %q after '}'", toks[1].text)
			}
			if len(stack) == 1 {
				return nil, p.errf(t.col, "'}' without an open nested profile")
			}
			stack = stack[:len(stack)-1]
			openPos = openPos[:len(openPos)-1]
		case !t.quoted && t.text == "signal":
			if len(toks) != 2 || toks[1].text != "outside" {
				return nil, p.errf(t.col, "want \"signal outside\"")
			}
			cur.Net = append(cur.Net, NetRule{Proto: "signal", Op: "outside", Pos: Pos{p.name, p.line, t.col}})
		case !t.quoted && t.text == "network":
			n, err := p.network(toks)
			if err != nil {
				return nil, err
			}
			cur.Net = append(cur.Net, n)
		case !t.quoted && t.text == "syscall":
			if len(toks) != 2 {
				return nil, p.errf(t.col, "want \"syscall NAME\"")
			}
			if !IsDangerous(toks[1].text) {
				return nil, p.errf(toks[1].col, "%q is not a blocked system call; only these need granting: %s", toks[1].text, strings.Join(DangerousSyscalls, " "))
			}
			cur.Syscalls = append(cur.Syscalls, toks[1].text)
		default:
			r, opens, err := p.rule(toks)
			if err != nil {
				return nil, err
			}
			if opens {
				r.Child = &Profile{Program: r.Path, Version: top.Version}
				cur.Rules = append(cur.Rules, r)
				stack = append(stack, r.Child)
				openPos = append(openPos, r.Pos)
				continue
			}
			cur.Rules = append(cur.Rules, r)
		}
	}
	if !sawHeader {
		return nil, p.errf(1, "empty profile: want a first line \"# PROGRAM %s\"", SyntaxVersion)
	}
	if len(stack) > 1 {
		return nil, &ParseError{Pos: openPos[len(openPos)-1], Msg: "nested profile is not closed with '}'"}
	}
	top.Canonicalize()
	return top, nil
}

func (p *parser) header(top *Profile, line []byte) error {
	rest, ok := bytes.CutPrefix(line, []byte("#"))
	if !ok {
		return p.errf(1, "first line must be the header \"# PROGRAM %s\"", SyntaxVersion)
	}
	toks, err := p.tokens(rest, 2)
	if err != nil {
		return err
	}
	if len(toks) != 2 {
		return p.errf(1, "header must be \"# PROGRAM %s\"", SyntaxVersion)
	}
	if !strings.HasPrefix(toks[0].text, "/") {
		return p.errf(toks[0].col, "program %q in the header is not an absolute path", toks[0].text)
	}
	if toks[1].text != SyntaxVersion {
		return p.errf(toks[1].col, "unsupported profile syntax version %q (this immunix reads %s)", toks[1].text, SyntaxVersion)
	}
	top.Program, top.Version = toks[0].text, toks[1].text
	return nil
}

type token struct {
	text   string
	col    int
	quoted bool
}

// tokens splits a line into blank-separated tokens; "..." quotes a token
// with \" \\ and \xNN escapes. A '#' outside quotes at a token start
// begins a comment.
func (p *parser) tokens(line []byte, col0 int) ([]token, error) {
	var toks []token
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		col := col0 + i
		if c == '#' {
			break
		}
		if c == '"' {
			var b []byte
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' {
					if i+1 >= len(line) {
						return nil, p.errf(col0+i, "unfinished escape")
					}
					switch line[i+1] {
					case '"', '\\':
						b = append(b, line[i+1])
						i += 2
					case 'x':
						if i+3 >= len(line) {
							return nil, p.errf(col0+i, "unfinished \\x escape")
						}
						var v [1]byte
						if _, err := hex.Decode(v[:], []byte(line[i+2:i+4])); err != nil {
							return nil, p.errf(col0+i, "bad \\x escape %q", line[i:i+4])
						}
						b = append(b, v[0])
						i += 4
					default:
						return nil, p.errf(col0+i, "unknown escape \\%c (use \\\", \\\\ or \\xNN)", line[i+1])
					}
					continue
				}
				b = append(b, c)
				i++
			}
			if !closed {
				return nil, p.errf(col, "unterminated quoted path")
			}
			toks = append(toks, token{string(b), col, true})
			continue
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] < 0x21 || line[i] > 0x7e || line[i] == '"' {
				return nil, p.errf(col0+i, "byte 0x%02x in an unquoted token; quote the path and write it \\x%02x", line[i], line[i])
			}
			i++
		}
		toks = append(toks, token{string(line[start:i]), col, false})
	}
	if len(toks) == 0 {
		return nil, p.errf(col0, "empty rule")
	}
	return toks, nil
}

func (p *parser) network(toks []token) (NetRule, error) {
	pos := Pos{p.name, p.line, toks[0].col}
	if len(toks) >= 2 {
		switch toks[1].text {
		case "udp":
			if len(toks) != 2 {
				return NetRule{}, p.errf(toks[2].col, "want \"network udp\" (every UDP port: Landlock of the kernels immunix supports has no UDP port rules)")
			}
			return NetRule{Proto: "udp", Pos: pos}, nil
		case "unix":
			if len(toks) != 3 || toks[2].text != "abstract" {
				return NetRule{}, p.errf(toks[1].col, "want \"network unix abstract\"")
			}
			return NetRule{Proto: "unix", Op: "abstract", Pos: pos}, nil
		}
	}
	if len(toks) != 4 {
		return NetRule{}, p.errf(toks[0].col, "want \"network tcp bind|connect PORT\", \"network udp\" or \"network unix abstract\"")
	}
	if toks[1].text != "tcp" {
		return NetRule{}, p.errf(toks[1].col, "unknown protocol %q (want tcp, udp or unix)", toks[1].text)
	}
	if toks[2].text != "bind" && toks[2].text != "connect" {
		return NetRule{}, p.errf(toks[2].col, "unknown network operation %q (want bind or connect)", toks[2].text)
	}
	port, err := strconv.ParseUint(toks[3].text, 10, 16)
	if err != nil {
		return NetRule{}, p.errf(toks[3].col, "bad port %q (want 0..65535)", toks[3].text)
	}
	return NetRule{Proto: "tcp", Op: toks[2].text, Port: uint16(port), Pos: pos}, nil
}

func (p *parser) rule(toks []token) (Rule, bool, error) {
	path := toks[0]
	if off, err := CheckPattern(path.text); err != nil {
		col := path.col + off
		if path.quoted {
			col = path.col
		}
		return Rule{}, false, p.errf(col, "%v", err)
	}
	if len(toks) < 2 {
		return Rule{}, false, p.errf(path.col+len(path.text), "rule for %s has no mode (r, w, c, m, ix, px)", path.text)
	}
	r := Rule{Path: path.text, Pos: Pos{p.name, p.line, path.col}}
	m := toks[1]
	s := m.text
	for i := 0; i < len(s); i++ {
		var bit Mode
		switch s[i] {
		case 'r':
			bit = Read
		case 'w':
			bit = Write
		case 'c':
			bit = Create
		case 'm':
			bit = Mmap
		case 'x':
			bit = Exec
			if r.Exec == ExecNone {
				r.Exec = ExecInherit
			}
		case 'i', 'p':
			if i+1 >= len(s) || s[i+1] != 'x' {
				return Rule{}, false, p.errf(m.col+i, "%q must be followed by x (ix or px)", s[i])
			}
			if r.Mode&Exec != 0 {
				return Rule{}, false, p.errf(m.col+i, "more than one exec mode")
			}
			r.Exec = ExecInherit
			if s[i] == 'p' {
				r.Exec = ExecProfile
			}
			bit = Exec
			i++
		default:
			return Rule{}, false, p.errf(m.col+i, "unknown mode %q (want r, w, c, m, ix or px)", s[i])
		}
		if r.Mode&bit != 0 {
			return Rule{}, false, p.errf(m.col+i, "mode %q repeated", s[i])
		}
		r.Mode |= bit
	}
	if r.Mode == 0 {
		return Rule{}, false, p.errf(m.col, "empty mode")
	}
	if len(toks) == 2 {
		if r.Exec == ExecProfile {
			return Rule{}, false, p.errf(m.col, "px rule for %s needs a nested profile: \"%s px {\" ... \"}\"", path.text, path.text)
		}
		return r, false, nil
	}
	if toks[2].text != "{" || toks[2].quoted || len(toks) > 3 {
		return Rule{}, false, p.errf(toks[2].col, "unexpected %q after the mode", toks[2].text)
	}
	if r.Exec != ExecProfile {
		return Rule{}, false, p.errf(toks[2].col, "only a px rule opens a nested profile")
	}
	return r, true, nil
}

// Format writes p in SubDomain syntax, in canonical order (call
// Canonicalize first for a canonical result).
func Format(w io.Writer, p *Profile) error {
	bw := bufio.NewWriter(w)
	v := p.Version
	if v == "" {
		v = SyntaxVersion
	}
	fmt.Fprintf(bw, "# %s %s\n", QuotePath(p.Program), v)
	formatBody(bw, p, "")
	return bw.Flush()
}

func formatBody(w *bufio.Writer, p *Profile, indent string) {
	for i := range p.Rules {
		r := &p.Rules[i]
		fmt.Fprintf(w, "%s%s %s", indent, QuotePath(r.Path), r.ModeString())
		if r.Exec == ExecProfile && r.Mode&Exec != 0 && r.Child != nil {
			w.WriteString(" {\n")
			formatBody(w, r.Child, indent+"\t")
			w.WriteString(indent + "}\n")
			continue
		}
		w.WriteByte('\n')
	}
	for _, n := range p.Net {
		fmt.Fprintf(w, "%s%s\n", indent, n)
	}
	for _, s := range p.Syscalls {
		fmt.Fprintf(w, "%ssyscall %s\n", indent, s)
	}
}

// QuotePath returns path as a profile token: unchanged when it is plain
// printable ASCII, else in double quotes with \" \\ and \xNN escapes.
func QuotePath(path string) string {
	plain := path != "" && path != "}" && path[0] != '#'
	for i := 0; i < len(path) && plain; i++ {
		c := path[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
		}
	}
	if plain {
		return path
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
