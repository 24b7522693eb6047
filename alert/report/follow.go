package report

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/immunix/immunix/alert"
)

// ErrSources wraps every refusal of what Follow was asked to follow (the
// user's input, not a failure while following).
var ErrSources = errors.New("cannot follow")

// FollowOptions says what Follow reads and how it writes.
type FollowOptions struct {
	// Files are the syslog files to follow; with none and not Journal,
	// the DefaultLogs that exist, else the journal.
	Files   []string
	Journal bool
	// FromStart reads each file from its start (--since), else from its
	// end; the journal from Filter.Since when set, else new entries.
	FromStart bool
	Filter    Filter
	JSON      bool          // one JSON object a line, else text lines
	Poll      time.Duration // file poll interval; 0: alert.DefaultPoll
	// Out receives the alerts; Warn one line per malformed alert line.
	Out  io.Writer
	Warn func(string)
}

// Followed is one line of --follow --format json.
type Followed struct {
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

// Follow prints each new alert of the sources as it arrives, across
// rotation and truncation, until ctx is done (nil) or a source fails.
func Follow(ctx context.Context, o FollowOptions) error {
	files, journal := o.Files, o.Journal
	if slices.Contains(files, "-") {
		return fmt.Errorf("%w: --follow reads files or the journal, not standard input", ErrSources)
	}
	if !journal && len(files) == 0 {
		files = ExistingDefaultLogs()
		if len(files) == 0 {
			if _, err := exec.LookPath("journalctl"); err != nil {
				return fmt.Errorf("%w: no log file named, none of %s exists and journalctl is not installed; name the files to follow", ErrSources, strings.Join(DefaultLogs, ", "))
			}
			journal = true
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".gz") {
			return fmt.Errorf("%w: --follow cannot follow the compressed file %s", ErrSources, f)
		}
	}
	poll := o.Poll
	if poll == 0 {
		poll = alert.DefaultPoll
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	var mu sync.Mutex
	out := bufio.NewWriter(o.Out)
	enc := json.NewEncoder(out)
	handle := func(source string) func(string) {
		p := &alert.Parser{}
		return func(line string) {
			a, err := p.ParseLine(line)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, alert.ErrNotAlert) && o.Warn != nil {
					o.Warn(fmt.Sprintf("%s: skipped a malformed alert line: %v", source, err))
				}
				return
			}
			if !o.Filter.Keep(&a) {
				return
			}
			if o.JSON {
				fa := Followed{Time: a.Time, Host: a.Host, Kind: a.Kind, Exe: a.Exe, PID: a.PID, UID: a.UID, Msg: a.Msg, Source: source}
				if len(a.Fields) > 0 {
					fa.Fields = map[string]string{}
					for _, f := range a.Fields {
						fa.Fields[f.Key] = f.Value
					}
				}
				enc.Encode(fa)
			} else {
				writeFollowed(out, &a)
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
			errs <- alert.Follow(ctx, f, o.FromStart, poll, handle(f))
		}()
	}
	if journal {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- followJournal(ctx, o.Filter.Since, handle("journal"))
		}()
	}
	go func() { wg.Wait(); close(errs) }()
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = err
			stop()
		}
	}
	return first
}

// writeFollowed writes one alert as a text line:
// TIME KIND EXE[PID] uid=U FIELDS: MSG
func writeFollowed(w io.Writer, a *alert.Alert) {
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
// those since since when it is set, until ctx is done.
func followJournal(ctx context.Context, since time.Time, line func(string)) error {
	args := []string{"-f", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=immunix"}
	if since.IsZero() {
		args = append(args, "-n", "0")
	} else {
		args = append(args, "--since", since.Format("2006-01-02 15:04:05"))
	}
	err := journalctl(ctx, args, line)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("journalctl -f: %w", err)
	}
	return errors.New("journalctl -f stopped")
}
