package alert

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parser reads alerts out of log lines in any of the framings immunix
// alerts travel in. The zero value is ready to use.
type Parser struct {
	// Now gives the reference time for RFC 3164 time stamps, which carry no
	// year: the year is Now's, or the year before when that would put the
	// stamp more than a day in the future. nil means time.Now.
	Now func() time.Time
	// Location for time stamps without a zone; nil means time.Local.
	Location *time.Location
}

func (p *Parser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Parser) loc() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return time.Local
}

// ParseLine parses one log line holding an immunix alert. It accepts:
//
//   - a bare body: "immunix alert: kind=..." (stderr, tests);
//   - RFC 3164 as sent to /dev/log: "<81>immunix[PID]: BODY", optionally
//     with "Mmm dd hh:mm:ss" and a host name after the PRI;
//   - RFC 5424: "<81>1 2026-11-26T20:00:00Z host immunix PID - - BODY";
//   - syslog files: "Nov 26 20:00:00 host immunix[PID]: BODY", or with an
//     RFC 3339 stamp as rsyslog's high-precision format writes;
//   - journal JSON (journalctl -o json), one object per line;
//   - anything else containing the marker (dmesg, kmsg): the body is taken
//     from the marker on and the envelope is left empty.
//
// A line without an alert gives an error wrapping ErrNotAlert; a line with a
// malformed alert gives another error.
func (p *Parser) ParseLine(line string) (Alert, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "{") {
		return p.ParseJournal([]byte(line))
	}
	idx := strings.Index(line, Marker)
	if idx < 0 {
		return Alert{Priority: -1}, fmt.Errorf("parse log line %q: %w", clip(line), ErrNotAlert)
	}
	a, err := ParseBody(line[idx:])
	if err != nil {
		return a, err
	}
	if idx > 0 {
		p.envelope(&a, line[:idx])
	}
	return a, nil
}

// envelope fills a's envelope from the framing before the body. It is best
// effort: an unrecognised framing leaves the envelope empty.
func (p *Parser) envelope(a *Alert, head string) {
	s := head
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 2 || end > 4 {
			return
		}
		pri, err := strconv.Atoi(s[1:end])
		if err != nil || pri < 0 || pri > 191 {
			return
		}
		s = s[end+1:]
		if strings.HasPrefix(s, "1 ") {
			if p.rfc5424(a, s[2:]) {
				a.Priority = pri
			}
			return
		}
		a.Priority = pri
	}
	p.rfc3164(a, s)
}

// rfc3164 handles "[TIMESTAMP ][HOST ]TAG[PID]: ".
func (p *Parser) rfc3164(a *Alert, s string) {
	if t, rest, ok := p.bsdTime(s); ok {
		a.Time, s = t, rest
	} else if t, rest, ok := rfc3339Prefix(s); ok {
		a.Time, s = t, rest
	}
	if !strings.HasSuffix(s, ": ") {
		return
	}
	s = s[:len(s)-2]
	fields := strings.Fields(s)
	switch len(fields) {
	case 1:
	case 2:
		a.Host = fields[0]
	default:
		return
	}
	tag := fields[len(fields)-1]
	if i := strings.IndexByte(tag, '['); i >= 0 && strings.HasSuffix(tag, "]") {
		if pid, err := strconv.Atoi(tag[i+1 : len(tag)-1]); err == nil {
			a.SyslogPID = pid
		}
		tag = tag[:i]
	}
	a.Ident = tag
}

// bsdTime parses "Mmm dd hh:mm:ss " (day space-padded or not).
func (p *Parser) bsdTime(s string) (time.Time, string, bool) {
	for _, f := range [...]struct {
		n      int
		layout string
	}{{15, time.Stamp}, {14, "Jan 2 15:04:05"}} {
		if len(s) <= f.n || s[f.n] != ' ' {
			continue
		}
		t, err := time.ParseInLocation(f.layout, s[:f.n], p.loc())
		if err != nil {
			continue
		}
		now := p.now().In(p.loc())
		t = time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, p.loc())
		if t.After(now.Add(24 * time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		return t, s[f.n+1:], true
	}
	return time.Time{}, s, false
}

func rfc3339Prefix(s string) (time.Time, string, bool) {
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return time.Time{}, s, false
	}
	t, err := time.Parse(time.RFC3339Nano, s[:sp])
	if err != nil {
		return time.Time{}, s, false
	}
	return t, s[sp+1:], true
}

// rfc5424 handles "TIMESTAMP HOST APP PROCID MSGID SD [BOM]" before the body.
func (p *Parser) rfc5424(a *Alert, s string) bool {
	f := strings.SplitN(s, " ", 6)
	if len(f) < 6 {
		return false
	}
	if f[0] != "-" {
		t, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			return false
		}
		a.Time = t
	}
	if f[1] != "-" {
		a.Host = f[1]
	}
	if f[2] != "-" {
		a.Ident = f[2]
	}
	if f[3] != "-" {
		if pid, err := strconv.Atoi(f[3]); err == nil {
			a.SyslogPID = pid
		}
	}
	return true
}

// journalEntry is the subset of a journal export entry that matters here.
// MESSAGE is a string, or an array of byte values when it is not UTF-8.
type journalEntry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	Identifier string          `json:"SYSLOG_IDENTIFIER"`
	PID        string          `json:"_PID"`
	SyslogPID  string          `json:"SYSLOG_PID"`
	Hostname   string          `json:"_HOSTNAME"`
	Priority   string          `json:"PRIORITY"`
	Facility   string          `json:"SYSLOG_FACILITY"`
}

// ParseJournal parses one entry of `journalctl -o json`.
func (p *Parser) ParseJournal(line []byte) (Alert, error) {
	var e journalEntry
	if err := json.Unmarshal(line, &e); err != nil {
		return Alert{Priority: -1}, fmt.Errorf("parse journal entry: %w", err)
	}
	var msg string
	if len(e.Message) > 0 && e.Message[0] == '[' {
		var bs []byte
		var ints []int
		if err := json.Unmarshal(e.Message, &ints); err != nil {
			return Alert{Priority: -1}, fmt.Errorf("parse journal entry MESSAGE: %w", err)
		}
		for _, v := range ints {
			bs = append(bs, byte(v))
		}
		msg = string(bs)
	} else if len(e.Message) > 0 {
		if err := json.Unmarshal(e.Message, &msg); err != nil {
			return Alert{Priority: -1}, fmt.Errorf("parse journal entry MESSAGE: %w", err)
		}
	}
	idx := strings.Index(msg, Marker)
	if idx < 0 {
		return Alert{Priority: -1}, fmt.Errorf("parse journal entry %q: %w", clip(msg), ErrNotAlert)
	}
	a, err := ParseBody(msg[idx:])
	if err != nil {
		return a, err
	}
	if us, err := strconv.ParseInt(e.Realtime, 10, 64); err == nil {
		a.Time = time.UnixMicro(us)
	}
	a.Host = e.Hostname
	a.Ident = e.Identifier
	pid := e.SyslogPID
	if pid == "" {
		pid = e.PID
	}
	if n, err := strconv.Atoi(pid); err == nil {
		a.SyslogPID = n
	}
	if sev, err := strconv.Atoi(e.Priority); err == nil {
		fac, _ := strconv.Atoi(e.Facility)
		a.Priority = fac*8 + sev
	}
	return a, nil
}
