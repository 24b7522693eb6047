package ccwrap

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/immunix/immunix/internal/logline"
	"github.com/immunix/immunix/internal/version"
)

// log appends one line to IMMUNIX_LOG with a single O_APPEND write, so lines
// from parallel compiles never interleave. A log that cannot be written is
// reported on stderr once and does not stop the build.
func (j *job) log(fg string) {
	if j.pol.Log == "" {
		return
	}
	line := j.logLine(fg)
	f, err := j.e.OpenLog(j.pol.Log)
	if err == nil {
		_, err = f.Write([]byte(line))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(j.e.Stderr, "immunix-cc: warning: IMMUNIX_LOG: %v\n", err)
	}
}

// openLog is Env.OpenLog's real provider.
func openLog(path string) (io.WriteCloser, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func (j *job) logLine(fg string) string {
	var b strings.Builder
	p := &j.plan
	wd, _ := j.e.Getwd()
	fmt.Fprintf(&b, "time=%s pid=%d v=%s mode=%s", j.e.Now().UTC().Format(time.RFC3339), j.e.Getpid(), version.Version, j.inv.Mode)
	if j.inv.Mode == ModeLink {
		fmt.Fprintf(&b, " link=%s", j.inv.Link)
	}
	fmt.Fprintf(&b, " cc=%s", logline.Value(j.comp.Cmd[0]))
	out := j.inv.Output
	if out == "" {
		out = "-"
	}
	fmt.Fprintf(&b, " dir=%s out=%s", logline.Value(wd), logline.Value(out))
	if j.inv.Reason != NoReason {
		fmt.Fprintf(&b, " pass=%s", j.inv.Reason)
		if j.inv.Detail != "" {
			fmt.Fprintf(&b, " detail=%s", logline.Value(j.inv.Detail))
		}
	}
	if p.Compile {
		writeRecord(&b, "compile", &p.CompileRec)
	}
	if p.Link {
		writeRecord(&b, "link", &p.LinkRec)
	}
	if fg != "" {
		fmt.Fprintf(&b, " fg=%s", fg)
	}
	if h := j.assets.Extra["fgh"]; h != "" {
		fmt.Fprintf(&b, " fgh=%s", h)
	}
	if p.Unstamped != "" {
		fmt.Fprintf(&b, " unstamped=%s", logline.Value(p.Unstamped))
	}
	var notes []string
	notes = append(notes, p.CompileRec.Notes...)
	notes = append(notes, p.LinkRec.Notes...)
	if j.capsNote != "" {
		notes = append(notes, "probe: "+j.capsNote)
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, " notes=%s", logline.Value(strings.Join(notes, "; ")))
	}
	b.WriteByte('\n')
	return b.String()
}

func writeRecord(b *strings.Builder, step string, r *Record) {
	fmt.Fprintf(b, " %s-on=%s %s-off=%s %s-user-off=%s", step, joinP(r.On), step, joinP(r.Off), step, userOffList(r))
	if step == "compile" {
		fmt.Fprintf(b, " fortify=%d", r.Fortify)
	}
}

func joinP(ps []Protection) string {
	ps = sortProtections(ps)
	if len(ps) == 0 {
		return "-"
	}
	return strings.Join(protectionStrings(ps), ",")
}

func userOffList(r *Record) string {
	ps := sortProtections(r.UserOff)
	if len(ps) == 0 {
		return "-"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p) + "(" + r.Flags[p] + ")"
	}
	return logline.Value(strings.Join(out, ","))
}
