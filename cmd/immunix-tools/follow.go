package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/cli"
)

// alertFilter is the --since, --kind and --exe filter both modes apply. An
// alert without a time stamp passes --since.
func alertFilter(since time.Time, kinds, exes []string) func(*alert.Alert) bool {
	return func(a *alert.Alert) bool {
		if !since.IsZero() && !a.Time.IsZero() && a.Time.Before(since) {
			return false
		}
		if len(kinds) > 0 && !slices.Contains(kinds, a.Kind) {
			return false
		}
		if len(exes) > 0 && !slices.Contains(exes, a.Exe) {
			return false
		}
		return true
	}
}

// followedAlert is one line of --follow --format json.
type followedAlert struct {
	Time   time.Time         `json:"time,omitzero"`
	Host   string            `json:"host,omitempty"`
	Kind   string            `json:"kind"`
	Exe    string            `json:"exe"`
	PID    int               `json:"pid"`
	UID    int               `json:"uid"`
	Fields map[string]string `json:"fields,omitempty"`
	Msg    string            `json:"msg"`
	Source string            `json:"source"`
}

// followAlerts runs --follow until SIGINT or SIGTERM.
func followAlerts(env *cli.Env, files []string, journal, fromStart bool, since time.Time, keep func(*alert.Alert) bool, asJSON bool) int {
	if slices.Contains(files, "-") {
		env.Errorf("alerts", "--follow reads files or the journal, not standard input")
		return 2
	}
	if !journal && len(files) == 0 {
		for _, f := range defaultLogs {
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			if _, err := exec.LookPath("journalctl"); err != nil {
				env.Errorf("alerts", "no log file named, none of %s exists and journalctl is not installed; name the files to follow", strings.Join(defaultLogs, ", "))
				return 2
			}
			journal = true
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".gz") {
			env.Errorf("alerts", "--follow cannot follow the compressed file %s", f)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mu sync.Mutex
	out := bufio.NewWriter(env.Stdout)
	enc := json.NewEncoder(out)
	malformed := 0
	handle := func(source string) func(string) {
		p := &alert.Parser{}
		return func(line string) {
			a, err := p.ParseLine(line)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, alert.ErrNotAlert) {
					malformed++
					env.Errorf("alerts", "%s: skipped a malformed alert line: %v", source, err)
				}
				return
			}
			if !keep(&a) {
				return
			}
			if asJSON {
				fa := followedAlert{Time: a.Time, Host: a.Host, Kind: a.Kind, Exe: a.Exe, PID: a.PID, UID: a.UID, Msg: a.Msg, Source: source}
				if len(a.Fields) > 0 {
					fa.Fields = map[string]string{}
					for _, f := range a.Fields {
						fa.Fields[f.Key] = f.Value
					}
				}
				enc.Encode(fa)
			} else {
				printFollowed(out, &a)
			}
			out.Flush()
		}
	}
	errs := make(chan error, len(files)+1)
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- alert.Follow(ctx, f, fromStart, alert.DefaultPoll, handle(f))
		}()
	}
	if journal {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- followJournal(ctx, since, handle("journal"))
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	code := 0
	for err := range errs {
		if err != nil {
			env.Errorf("alerts", "%v", err)
			code = 1
			stop()
		}
	}
	return code
}

// printFollowed writes one alert as a text line:
// TIME KIND EXE[PID] uid=U FIELDS: MSG
func printFollowed(w io.Writer, a *alert.Alert) {
	var b strings.Builder
	b.WriteString(fmtTime(a.Time))
	fmt.Fprintf(&b, " %s %s[%d] uid=%d", a.Kind, alert.Escape(a.Exe), a.PID, a.UID)
	for _, f := range a.Fields {
		fmt.Fprintf(&b, " %s=%s", f.Key, alert.Escape(f.Value))
	}
	b.WriteString(": ")
	b.WriteString(alert.EscapeMsg(a.Msg))
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// followJournal runs journalctl -f for immunix's identifier: new entries, or
// those since since when it is set.
func followJournal(ctx context.Context, since time.Time, line func(string)) error {
	jc, err := exec.LookPath("journalctl")
	if err != nil {
		return errors.New("journalctl is not installed (Debian package: systemd); follow syslog files instead")
	}
	args := []string{"-f", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=immunix"}
	if since.IsZero() {
		args = append(args, "-n", "0")
	} else {
		args = append(args, "--since", since.Format("2006-01-02 15:04:05"))
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
	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journalctl -f: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return errors.New("journalctl -f stopped")
}
