package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{
		Name:    "alerts",
		Summary: cli.Summary("alerts"),
		Run:     runAlerts,
	})
}

const alertsUsage = `Usage: immunix alerts [OPTIONS] [FILES...]
       immunix alerts --follow [OPTIONS] [FILES...]

Reads syslog files (plain or .gz; "-" is standard input) or the systemd
journal, finds every immunix alert (stackguard, fortify, formatguard,
subdomain, raceguard, cryptomark) and summarises them per program, kind
and time. Without FILES or --journal it reads those of /var/log/auth.log,
/var/log/syslog and /var/log/messages that exist.

--follow prints each new alert as it arrives, one a line, as tail -F does:
from the end of each file (from its start with --since), across rotation
and truncation, until interrupted (exit 0). Without FILES or --journal it
follows the default files that exist, else the journal (journalctl -f).
--kind, --exe and --since filter both modes.

Options:
`

// defaultLogs are read when no file is named.
var defaultLogs = []string{"/var/log/auth.log", "/var/log/syslog", "/var/log/messages"}

type alertGroup struct {
	Exe         string    `json:"exe"`
	Kind        string    `json:"kind"`
	Count       int       `json:"count"`
	First       time.Time `json:"first,omitzero"`
	Last        time.Time `json:"last,omitzero"`
	PIDs        []int     `json:"pids"`
	LastMessage string    `json:"last_msg"`
	Detail      []string  `json:"detail,omitempty"` // distinct op/path/syscall of subdomain alerts, first 10
}

type alertSummary struct {
	Alerts    int            `json:"alerts"`
	Malformed int            `json:"malformed"`
	Kinds     map[string]int `json:"kinds"`
	Groups    []*alertGroup  `json:"groups"`
}

func runAlerts(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("alerts", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	journal := fs.Bool("journal", false, "read the systemd journal (journalctl -o json) instead of files")
	since := fs.String("since", "", "only alerts at or after `TIME`: RFC 3339, \"2006-01-02[ 15:04:05]\", or an age such as 90m, 24h, 7d")
	asJSON := fs.Bool("json", false, "print the summary as JSON (same as --format json)")
	format := fs.String("format", "text", "output `FORMAT`: text or json (--follow: one JSON object a line)")
	follow := fs.BoolP("follow", "f", false, "print new alerts as they arrive, until interrupted")
	kinds := fs.StringSlice("kind", nil, "only alerts of `KIND` (comma-separated, repeatable)")
	exes := fs.StringSlice("exe", nil, "only alerts of the program at `PATH` (repeatable)")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, alertsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *help {
		fmt.Fprint(env.Stdout, alertsUsage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return 0
	}
	var sinceT time.Time
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			env.Errorf("alerts", "%v", err)
			return 2
		}
		sinceT = t
	}
	switch *format {
	case "text":
	case "json":
		*asJSON = true
	default:
		env.Errorf("alerts", "bad --format %q: want text or json", *format)
		return 2
	}
	keep := alertFilter(sinceT, *kinds, *exes)
	files := fs.Args()
	if *journal && len(files) > 0 {
		env.Errorf("alerts", "give either FILES or --journal, not both")
		return 2
	}
	if *follow {
		return followAlerts(env, files, *journal, !sinceT.IsZero(), sinceT, keep, *asJSON)
	}
	if !*journal && len(files) == 0 {
		for _, f := range defaultLogs {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			env.Errorf("alerts", "no log file named and none of %s exists; name files or use --journal", strings.Join(defaultLogs, ", "))
			return 2
		}
	}
	sum := &alertSummary{Kinds: map[string]int{}}
	groups := map[[2]string]*alertGroup{}
	var firstBad string
	p := &alert.Parser{}
	handle := func(line string) {
		a, err := p.ParseLine(line)
		if err != nil {
			if !errors.Is(err, alert.ErrNotAlert) {
				sum.Malformed++
				if firstBad == "" {
					firstBad = err.Error()
				}
			}
			return
		}
		if !keep(&a) {
			return
		}
		sum.Alerts++
		sum.Kinds[a.Kind]++
		k := [2]string{a.Exe, a.Kind}
		g := groups[k]
		if g == nil {
			g = &alertGroup{Exe: a.Exe, Kind: a.Kind}
			groups[k] = g
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
		if len(g.PIDs) < 20 && !containsInt(g.PIDs, a.PID) {
			g.PIDs = append(g.PIDs, a.PID)
		}
		g.LastMessage = a.Msg
		if d := alertDetail(&a); d != "" && len(g.Detail) < 10 && !containsStr(g.Detail, d) {
			g.Detail = append(g.Detail, d)
		}
	}
	if *journal {
		if err := readJournal(sinceT, handle); err != nil {
			env.Errorf("alerts", "%v", err)
			return 1
		}
	}
	for _, f := range files {
		if err := readLog(env, f, handle); err != nil {
			env.Errorf("alerts", "%v", err)
			return 1
		}
	}
	for _, g := range groups {
		sort.Ints(g.PIDs)
		sum.Groups = append(sum.Groups, g)
	}
	sort.Slice(sum.Groups, func(i, j int) bool {
		a, b := sum.Groups[i], sum.Groups[j]
		if a.Exe != b.Exe {
			return a.Exe < b.Exe
		}
		return a.Kind < b.Kind
	})
	if sum.Malformed > 0 {
		env.Errorf("alerts", "%d malformed alert lines skipped; first: %s", sum.Malformed, firstBad)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if sum.Groups == nil {
			sum.Groups = []*alertGroup{}
		}
		enc.Encode(sum)
		return 0
	}
	printSummary(env.Stdout, sum)
	return 0
}

func alertDetail(a *alert.Alert) string {
	var parts []string
	for _, k := range []string{"op", "path", "port", "syscall", "fn"} {
		if v, ok := a.Get(k); ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func containsStr(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func printSummary(w io.Writer, sum *alertSummary) {
	if sum.Alerts == 0 {
		fmt.Fprintln(w, "no immunix alerts")
		return
	}
	var kinds []string
	for k := range sum.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var per []string
	for _, k := range kinds {
		per = append(per, fmt.Sprintf("%s %d", k, sum.Kinds[k]))
	}
	fmt.Fprintf(w, "%d immunix alerts: %s\n\n", sum.Alerts, strings.Join(per, ", "))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tKIND\tCOUNT\tFIRST\tLAST\tLAST MESSAGE")
	for _, g := range sum.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", g.Exe, g.Kind, g.Count, fmtTime(g.First), fmtTime(g.Last), g.LastMessage)
		for _, d := range g.Detail {
			fmt.Fprintf(tw, "\t\t\t\t\t  %s\n", d)
		}
	}
	tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// parseSince reads an absolute time or an age ("90m", "24h", "7d").
func parseSince(s string, now time.Time) (time.Time, error) {
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

func readLog(env *cli.Env, name string, handle func(string)) error {
	var r io.Reader
	if name == "-" {
		r = env.Stdin
	} else {
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
		handle(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read log %s: %w", name, err)
	}
	return nil
}

func readJournal(sinceT time.Time, handle func(string)) error {
	jc, err := exec.LookPath("journalctl")
	if err != nil {
		return errors.New("journalctl is not installed (Debian package: systemd); read syslog files instead")
	}
	args := []string{"-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=immunix"}
	if !sinceT.IsZero() {
		args = append(args, "--since", sinceT.Format("2006-01-02 15:04:05"))
	}
	cmd := exec.Command(jc, args...)
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
		handle(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("journalctl: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
