package alert

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Marker starts every alert body.
const Marker = "immunix alert: "

// The alert kinds immunix raises (docs/contracts.md). Readers accept any
// kind token; these are the ones the project knows.
const (
	KindStackGuard  = "stackguard"
	KindFortify     = "fortify"
	KindFormatGuard = "formatguard"
	KindSubDomain   = "subdomain"
	KindRaceGuard   = "raceguard"
	KindCryptoMark  = "cryptomark"
)

// ErrNotAlert is returned (wrapped) for a line that carries no immunix alert.
var ErrNotAlert = errors.New("not an immunix alert")

// Field is one kind-specific key=value field, in the order it was written.
type Field struct {
	Key, Value string
}

// Alert is one immunix alert: the body fields and, when the alert was read
// from a log, the envelope around it.
type Alert struct {
	Kind   string
	Exe    string
	PID    int
	UID    int
	Fields []Field // kind-specific fields between uid and msg, in order
	Msg    string

	// Envelope, filled by ParseLine/ParseJournal when the framing has it.
	Time      time.Time // zero when the framing has no time stamp
	Host      string    // "" when unknown
	Ident     string    // syslog tag / identifier, "immunix" normally
	SyslogPID int       // PID in the syslog tag (0 when absent)
	Priority  int       // syslog PRI (facility*8+severity), -1 when absent
}

// Get returns the value of a kind-specific field.
func (a *Alert) Get(key string) (string, bool) {
	for _, f := range a.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Body formats the alert body as the C writer does:
// "immunix alert: kind=K exe=E pid=P uid=U [fields] msg=M".
func (a *Alert) Body() string {
	var b strings.Builder
	b.WriteString(Marker)
	b.WriteString("kind=")
	b.WriteString(Escape(a.Kind))
	b.WriteString(" exe=")
	b.WriteString(Escape(a.Exe))
	b.WriteString(" pid=")
	b.WriteString(strconv.Itoa(a.PID))
	b.WriteString(" uid=")
	b.WriteString(strconv.Itoa(a.UID))
	for _, f := range a.Fields {
		b.WriteByte(' ')
		b.WriteString(Escape(f.Key))
		b.WriteByte('=')
		b.WriteString(Escape(f.Value))
	}
	b.WriteString(" msg=")
	b.WriteString(EscapeMsg(a.Msg))
	return b.String()
}

const hexdigits = "0123456789abcdef"

// Escape writes a single-token value: bytes outside 0x21..0x7e, and '\',
// become \xNN.
func Escape(s string) string {
	return escape(s, func(c byte) bool { return c < 0x21 || c > 0x7e || c == '\\' })
}

// EscapeMsg escapes the msg field as the C writer does: bytes outside
// 0x20..0x7e (control characters, DEL, non-ASCII) and '\' become \xNN;
// spaces stay.
func EscapeMsg(s string) string {
	return escape(s, func(c byte) bool { return c < 0x20 || c > 0x7e || c == '\\' })
}

func escape(s string, bad func(byte) bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if bad(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+3*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if bad(c) {
			b = append(b, '\\', 'x', hexdigits[c>>4], hexdigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// Unescape reverses Escape and EscapeMsg: each \xNN becomes the byte NN.
// A backslash not followed by two hex digits is kept as it is.
func Unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var v [1]byte
			if _, err := hex.Decode(v[:], []byte(s[i+2:i+4])); err == nil {
				b = append(b, v[0])
				i += 3
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// ParseBody parses an alert body starting with "immunix alert: ". The
// fields kind, exe, pid and uid are required, in that order; msg, when
// present, runs to the end of the line. Trailing CR/LF are ignored.
func ParseBody(s string) (Alert, error) {
	a := Alert{Priority: -1}
	s = strings.TrimRight(s, "\r\n")
	rest, ok := strings.CutPrefix(s, Marker)
	if !ok {
		return a, fmt.Errorf("parse alert body %q: %w", clip(s), ErrNotAlert)
	}
	required := [...]string{"kind", "exe", "pid", "uid"}
	n := 0
	for rest != "" {
		if strings.HasPrefix(rest, "msg=") {
			a.Msg = Unescape(rest[len("msg="):])
			rest = ""
			break
		}
		tok := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if tok == "" {
			continue // tolerate doubled spaces
		}
		key, val, ok := strings.Cut(tok, "=")
		if !ok || key == "" {
			return a, fmt.Errorf("parse alert body %q: field %q is not key=value", clip(s), clip(tok))
		}
		val = Unescape(val)
		if n < len(required) {
			if key != required[n] {
				return a, fmt.Errorf("parse alert body %q: field %d is %q, want %q", clip(s), n+1, key, required[n])
			}
			var err error
			switch key {
			case "kind":
				if val == "" {
					return a, fmt.Errorf("parse alert body %q: empty kind", clip(s))
				}
				a.Kind = val
			case "exe":
				a.Exe = val
			case "pid":
				a.PID, err = strconv.Atoi(val)
			case "uid":
				a.UID, err = strconv.Atoi(val)
			}
			if err != nil {
				return a, fmt.Errorf("parse alert body %q: bad %s %q", clip(s), key, clip(val))
			}
			n++
			continue
		}
		a.Fields = append(a.Fields, Field{Key: Unescape(key), Value: val})
	}
	if n < len(required) {
		return a, fmt.Errorf("parse alert body %q: missing field %q", clip(s), required[n])
	}
	return a, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
