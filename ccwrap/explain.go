package ccwrap

import (
	"fmt"
	"strings"
)

// shellJoin quotes argv so it can be pasted into a POSIX shell.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=+,:@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

func (j *job) writeExplain(argv []string) {
	w := j.e.Stdout
	fmt.Fprintf(w, "compiler:  %s (%s)\n", strings.Join(j.comp.Cmd, " "), j.comp.Via)
	if len(j.comp.Launcher) > 0 {
		fmt.Fprintf(w, "launcher:  %s\n", strings.Join(j.comp.Launcher, " "))
	}
	if j.caps.Kind != "" {
		fmt.Fprintf(w, "caps:      %s %s x86=%t stack-protector-strong=%t stack-clash=%t cf-protection=%t fortify3=%t default-pie=%t\n",
			j.caps.Kind, j.caps.Version, j.caps.X86, j.caps.Canary, j.caps.StackClash, j.caps.CET, j.caps.Fortify3, j.caps.DefaultPIE)
	}
	fmt.Fprintf(w, "mode:      %s", j.inv.Mode)
	if j.inv.Mode == ModeLink {
		fmt.Fprintf(w, " (%s)", j.inv.Link)
	}
	fmt.Fprintln(w)
	if j.inv.Reason != NoReason {
		fmt.Fprintf(w, "pass:      %s %s (the command runs unchanged)\n", j.inv.Reason, j.inv.Detail)
	}
	for _, in := range j.inv.Inputs {
		l := string(in.Lang)
		if l == "" {
			l = "linker input"
		}
		fmt.Fprintf(w, "input:     %s (%s)\n", in.Name, l)
	}
	p := &j.plan
	show := func(step string, r *Record) {
		fmt.Fprintf(w, "%-10s on=%s off=%s user-off=%s", step+":", joinP(r.On), joinP(r.Off), userOffList(r))
		if step == "compile" {
			fmt.Fprintf(w, " fortify=%d", r.Fortify)
		}
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note:    %s\n", n)
		}
	}
	if p.Compile {
		show("compile", &p.CompileRec)
	}
	if p.Link {
		show("link", &p.LinkRec)
	}
	if p.Unstamped != "" {
		fmt.Fprintf(w, "stamp:     none: %s\n", p.Unstamped)
	}
	if j.capsNote != "" {
		fmt.Fprintf(w, "probe:     %s\n", j.capsNote)
	}
	fmt.Fprintf(w, "command:   %s\n", shellJoin(argv))
}
