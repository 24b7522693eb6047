package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert/report"
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
	filter := report.Filter{Kinds: *kinds, Exes: *exes}
	if *since != "" {
		t, err := report.ParseSince(*since, time.Now())
		if err != nil {
			env.Errorf("alerts", "%v", err)
			return 2
		}
		filter.Since = t
	}
	switch *format {
	case "text":
	case "json":
		*asJSON = true
	default:
		env.Errorf("alerts", "bad --format %q: want text or json", *format)
		return 2
	}
	files := fs.Args()
	if *journal && len(files) > 0 {
		env.Errorf("alerts", "give either FILES or --journal, not both")
		return 2
	}
	if *follow {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := report.Follow(ctx, report.FollowOptions{
			Files: files, Journal: *journal, FromStart: !filter.Since.IsZero(), Filter: filter, JSON: *asJSON,
			Out: env.Stdout, Warn: func(s string) { env.Errorf("alerts", "%s", s) },
		})
		switch {
		case errors.Is(err, report.ErrSources):
			env.Errorf("alerts", "%v", err)
			return 2
		case err != nil:
			env.Errorf("alerts", "%v", err)
			return 1
		}
		return 0
	}
	if !*journal && len(files) == 0 {
		files = report.ExistingDefaultLogs()
		if len(files) == 0 {
			env.Errorf("alerts", "no log file named and none of %s exists; name files or use --journal", strings.Join(report.DefaultLogs, ", "))
			return 2
		}
	}
	sum := report.NewSummary(filter)
	if *journal {
		if err := report.ReadJournal(filter.Since, sum.Line); err != nil {
			env.Errorf("alerts", "%v", err)
			return 1
		}
	}
	for _, f := range files {
		if err := report.ReadLog(f, env.Stdin, sum.Line); err != nil {
			env.Errorf("alerts", "%v", err)
			return 1
		}
	}
	if sum.Malformed > 0 {
		env.Errorf("alerts", "%d malformed alert lines skipped; first: %s", sum.Malformed, sum.FirstMalformed)
	}
	var err error
	if *asJSON {
		err = sum.WriteJSON(env.Stdout)
	} else {
		err = sum.WriteText(env.Stdout)
	}
	if err != nil {
		env.Errorf("alerts", "write the summary: %v", err)
		return 1
	}
	return 0
}
