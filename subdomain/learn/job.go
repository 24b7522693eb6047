package learn

import (
	"errors"
	"fmt"
	"io"

	"github.com/immunix/immunix/subdomain"
)

// Job is one immunix learn: a command run under strace, traces replayed,
// and existing profiles merged, in that order, into one profile.
//
// The kept trace's compression is not this package's (subdomain/learn/
// tracefile, so that complain mode, which links the parser, does not link
// zstd): the caller gives KeepTrace and OpenTrace.
type Job struct {
	Options Options
	// Argv is the command to run under strace (none: replay only).
	Argv []string
	// KeepTrace, when not nil, receives the command's raw trace.
	KeepTrace io.Writer
	// Traces are kept traces to replay, opened with OpenTrace.
	Traces    []string
	OpenTrace func(name string) (io.ReadCloser, error)
	// Merge are profiles whose rules are merged in.
	Merge []string
	// The command's standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Warn receives one line per trace with lines the parser did not
	// understand.
	Warn func(string)
}

// ErrNothingToLearn is returned by Run when the job names no command,
// trace or profile.
var ErrNothingToLearn = errors.New("nothing to learn: give a command, a trace or a profile")

// Run does the job and returns the merged profile and the command's exit
// code (0 without a command). A missing strace is ErrNoStrace.
func (j *Job) Run() (*subdomain.Profile, int, error) {
	var prof *subdomain.Profile
	merge := func(p *subdomain.Profile) {
		if prof == nil {
			prof = p
			return
		}
		prof.Merge(p)
	}
	exit := 0
	if len(j.Argv) > 0 {
		b := NewBuilder(j.Options)
		p := &Parser{Emit: b.Add, SkipLookups: true}
		r := &Runner{Stdin: j.Stdin, Stdout: j.Stdout, Stderr: j.Stderr}
		code, err := r.Run(j.Argv, p, j.KeepTrace)
		if err != nil {
			return nil, 0, err
		}
		exit = code
		j.warn(p, "")
		pp, err := b.Profile()
		if err != nil {
			return nil, exit, err
		}
		merge(pp)
	}
	for _, t := range j.Traces {
		if j.OpenTrace == nil {
			return nil, exit, fmt.Errorf("replay %s: no trace reader", t)
		}
		rc, err := j.OpenTrace(t)
		if err != nil {
			return nil, exit, err
		}
		b := NewBuilder(j.Options)
		p := &Parser{Emit: b.Add, SkipLookups: true}
		err = p.Parse(rc)
		rc.Close()
		if err != nil {
			return nil, exit, fmt.Errorf("replay %s: %w", t, err)
		}
		j.warn(p, t+": ")
		pp, err := b.Profile()
		if err != nil {
			return nil, exit, fmt.Errorf("replay %s: %w", t, err)
		}
		merge(pp)
	}
	for _, m := range j.Merge {
		pp, err := subdomain.Load(m)
		if err != nil {
			return nil, exit, fmt.Errorf("merge: %w", err)
		}
		merge(pp)
	}
	if prof == nil {
		return nil, exit, ErrNothingToLearn
	}
	return prof, exit, nil
}

func (j *Job) warn(p *Parser, prefix string) {
	if p.Warnings > 0 && j.Warn != nil {
		j.Warn(fmt.Sprintf("%s%d trace lines not understood; first: %s", prefix, p.Warnings, p.FirstWarning))
	}
}
