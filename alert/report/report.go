// Package report turns immunix alerts in logs into what a person or a
// program reads: it finds them in syslog files (plain or gzip), the
// systemd journal or standard input, keeps those a Filter selects, groups
// them per program and kind (Summary, for immunix alerts), or streams
// them as they arrive (Follow, for immunix alerts --follow).
//
// It is apart from package alert, which owns the alert line itself and is
// linked into immunix run, so that run does not carry gzip, journalctl
// and the report writers.
package report

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/immunix/immunix/alert"
)

// DefaultLogs are the syslog files read when none is named.
var DefaultLogs = []string{"/var/log/auth.log", "/var/log/syslog", "/var/log/messages"}

// ExistingDefaultLogs returns those of DefaultLogs that exist.
func ExistingDefaultLogs() []string {
	var out []string
	for _, f := range DefaultLogs {
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// Filter selects alerts: at or after Since (an alert without a time stamp
// passes), of one of Kinds, of one of Exes; an empty field selects all.
type Filter struct {
	Since time.Time
	Kinds []string
	Exes  []string
}

// Keep reports whether a passes the filter.
func (f Filter) Keep(a *alert.Alert) bool {
	if !f.Since.IsZero() && !a.Time.IsZero() && a.Time.Before(f.Since) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, a.Kind) {
		return false
	}
	if len(f.Exes) > 0 && !slices.Contains(f.Exes, a.Exe) {
		return false
	}
	return true
}

// ParseSince reads an absolute time (RFC 3339, "2006-01-02[ 15:04:05]")
// or an age before now ("90m", "24h", "7d").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.Add(-time.Duration(d) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad --since %q: want RFC 3339, \"2006-01-02[ 15:04:05]\" or an age such as 24h or 7d", s)
}

// ReadLog calls line for each line of the syslog file name ("-": stdin;
// a name ending in .gz is decompressed).
func ReadLog(name string, stdin io.Reader, line func(string)) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		defer f.Close()
		r = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("read log %s: %w", name, err)
			}
			defer zr.Close()
			r = zr
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read log %s: %w", name, err)
	}
	return nil
}

// ReadJournal calls line for each journal entry (JSON) of immunix's
// syslog identifier, since since when it is set.
func ReadJournal(since time.Time, line func(string)) error {
	args := []string{"-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=immunix"}
	if !since.IsZero() {
		args = append(args, "--since", since.Format("2006-01-02 15:04:05"))
	}
	if err := journalctl(context.Background(), args, line); err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}

// journalctl runs journalctl with args and calls line for each line it
// writes; its error says what journalctl wrote on stderr.
func journalctl(ctx context.Context, args []string, line func(string)) error {
	jc, err := exec.LookPath("journalctl")
	if err != nil {
		return errors.New("journalctl is not installed (Debian package: systemd); read syslog files instead")
	}
	cmd := exec.CommandContext(ctx, jc, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run journalctl: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1<<22)
	for sc.Scan() {
		line(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Group is the alerts of one program and kind.
type Group struct {
	Exe         string    `json:"exe"`
	Kind        string    `json:"kind"`
	Count       int       `json:"count"`
	First       time.Time `json:"first,omitzero"`
	Last        time.Time `json:"last,omitzero"`
	PIDs        []int     `json:"pids"`
	LastMessage string    `json:"last_msg"`
	Detail      []string  `json:"detail,omitempty"` // distinct op/path/syscall of subdomain alerts, first 10
}

// Summary counts and groups the alerts of the lines given to Line.
type Summary struct {
	Alerts    int            `json:"alerts"`
	Malformed int            `json:"malformed"`
	Kinds     map[string]int `json:"kinds"`
	Groups    []*Group       `json:"groups"`
	// FirstMalformed describes the first malformed alert line.
	FirstMalformed string `json:"-"`

	filter Filter
	parser alert.Parser
	groups map[[2]string]*Group
}

// NewSummary returns an empty summary of the alerts filter keeps.
func NewSummary(filter Filter) *Summary {
	return &Summary{Kinds: map[string]int{}, filter: filter, groups: map[[2]string]*Group{}}
}

// Line adds one log line (syslog text or a journal JSON entry); lines
// that are not alerts are ignored, malformed alerts counted.
func (s *Summary) Line(line string) {
	a, err := s.parser.ParseLine(line)
	if err != nil {
		if !errors.Is(err, alert.ErrNotAlert) {
			s.Malformed++
			if s.FirstMalformed == "" {
				s.FirstMalformed = err.Error()
			}
		}
		return
	}
	if !s.filter.Keep(&a) {
		return
	}
	s.Alerts++
	s.Kinds[a.Kind]++
	k := [2]string{a.Exe, a.Kind}
	g := s.groups[k]
	if g == nil {
		g = &Group{Exe: a.Exe, Kind: a.Kind}
		s.groups[k] = g
		s.Groups = append(s.Groups, g)
	}
	g.Count++
	if !a.Time.IsZero() {
		if g.First.IsZero() || a.Time.Before(g.First) {
			g.First = a.Time
		}
		if a.Time.After(g.Last) {
			g.Last = a.Time
		}
	}
	if len(g.PIDs) < 20 && !slices.Contains(g.PIDs, a.PID) {
		g.PIDs = append(g.PIDs, a.PID)
	}
	g.LastMessage = a.Msg
	if d := detail(&a); d != "" && len(g.Detail) < 10 && !slices.Contains(g.Detail, d) {
		g.Detail = append(g.Detail, d)
	}
}

// detail is what a group lists of each distinct alert: op, path, port,
// syscall and function.
func detail(a *alert.Alert) string {
	var parts []string
	for _, k := range []string{"op", "path", "port", "syscall", "fn"} {
		if v, ok := a.Get(k); ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// sort orders the groups by program, then kind, and each group's PIDs.
func (s *Summary) sort() {
	for _, g := range s.Groups {
		sort.Ints(g.PIDs)
	}
	sort.Slice(s.Groups, func(i, j int) bool {
		a, b := s.Groups[i], s.Groups[j]
		if a.Exe != b.Exe {
			return a.Exe < b.Exe
		}
		return a.Kind < b.Kind
	})
}

// WriteJSON writes the summary as one indented JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	s.sort()
	out := *s
	if out.Groups == nil {
		out.Groups = []*Group{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&out)
}

// WriteText writes the summary as a line of counts per kind and a table
// of groups.
func (s *Summary) WriteText(w io.Writer) error {
	s.sort()
	if s.Alerts == 0 {
		_, err := fmt.Fprintln(w, "no immunix alerts")
		return err
	}
	var per []string
	for _, k := range slices.Sorted(maps.Keys(s.Kinds)) {
		per = append(per, fmt.Sprintf("%s %d", k, s.Kinds[k]))
	}
	fmt.Fprintf(w, "%d immunix alerts: %s\n\n", s.Alerts, strings.Join(per, ", "))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tKIND\tCOUNT\tFIRST\tLAST\tLAST MESSAGE")
	for _, g := range s.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", g.Exe, g.Kind, g.Count, fmtTime(g.First), fmtTime(g.Last), g.LastMessage)
		for _, d := range g.Detail {
			fmt.Fprintf(tw, "\t\t\t\t\t  %s\n", d)
		}
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
