// Package complain is SubDomain's complain mode: the program runs under
// strace (the learner's runner and parser) and every access outside its
// profile is alerted once, nothing blocked. It is apart from package
// enforce so that immunix run, which enforces, does not link the learner;
// immunix execs immunix-tools for run --complain.
//
//	code, c, err := complain.Run(complain.Options{Profile: prof, Alerts: w}, argv)
//	fmt.Println(c.Violations)
package complain

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/learn"
)

// Checker compares trace events with a profile: complain mode. Each
// access outside the profile becomes one alert (once per program, path
// and mode); nothing is blocked.
type Checker struct {
	Profile *subdomain.Profile
	Alerts  *alert.Writer
	// Mode is the alert's mode field, "complain".
	Mode string
	// Violations counts the distinct accesses outside the profile.
	Violations int

	byExe map[string]*subdomain.Profile
	seen  map[string]bool
	real  map[string]string
}

func (c *Checker) resolve(p string) string {
	if c.real == nil {
		c.real = map[string]string{}
	}
	if r, ok := c.real[p]; ok {
		return r
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		r = p
	}
	c.real[p] = r
	return r
}

// Check handles one event; use it as learn.Parser.Emit.
func (c *Checker) Check(ev *learn.Event) {
	if c.byExe == nil {
		c.byExe = map[string]*subdomain.Profile{}
		c.seen = map[string]bool{}
	}
	if ev.Exe == "" {
		if ev.Execed {
			c.byExe[c.resolve(ev.Path)] = c.Profile
		}
		return
	}
	exe := c.resolve(ev.Exe)
	prof := c.byExe[exe]
	if prof == nil {
		prof = c.Profile
	}
	if g := subdomain.SyscallGrant(ev.Syscall); g != "" && !ev.NoGrant && !contains(prof.Syscalls, g) {
		c.report(ev, exe, prof, "syscall", ev.Syscall, "")
	}
	if ev.Probe() {
		return
	}
	switch {
	case ev.NetOp != "":
		proto, op := ev.Proto, ev.NetOp
		switch proto {
		case "":
			proto = "tcp"
		case "udp":
			op = ""
		}
		if !prof.AllowsNet(proto, op, ev.Port) {
			c.report(ev, exe, prof, ev.NetOp, fmt.Sprint(ev.Port), "")
		}
	case ev.Mode&subdomain.Exec != 0:
		target := c.resolve(ev.Path)
		child, ok := prof.ChildFor(target)
		if !ok {
			c.report(ev, exe, prof, "exec", target, "x")
			child = prof
		} else if child == nil {
			child = prof
		}
		if ev.Execed {
			c.byExe[target] = child
		}
	case ev.Mode != 0 && ev.Path != "":
		if ok, _ := prof.Allows(ev.Path, ev.Mode); !ok {
			c.report(ev, exe, prof, "open", ev.Path, ev.Mode.String())
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (c *Checker) report(ev *learn.Event, exe string, prof *subdomain.Profile, op, target, mode string) {
	key := exe + "\x00" + op + "\x00" + target + "\x00" + mode
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.Violations++
	fields := []alert.Field{{Key: "profile", Value: prof.Program}, {Key: "op", Value: op}}
	switch op {
	case "bind", "connect":
		fields = append(fields, alert.Field{Key: "port", Value: target})
	case "syscall":
		fields = append(fields, alert.Field{Key: "syscall", Value: target})
	default:
		fields = append(fields, alert.Field{Key: "path", Value: target}, alert.Field{Key: "access", Value: mode})
	}
	m := c.Mode
	if m == "" {
		m = "complain"
	}
	fields = append(fields, alert.Field{Key: "mode", Value: m})
	msg := "outside the profile (" + ev.Syscall
	if ev.Err != "" {
		msg += " failed " + ev.Err
	}
	msg += "; complain mode: allowed)"
	a := &alert.Alert{Kind: alert.KindSubDomain, Exe: exe, PID: ev.PID, UID: os.Getuid(), Fields: fields, Msg: msg}
	if c.Alerts != nil {
		c.Alerts.Send(a)
	}
}

// Options are what complain mode runs with.
type Options struct {
	Profile *subdomain.Profile
	// Alerts receives one alert per access outside the profile.
	Alerts *alert.Writer
	// Env is the command's environment; nil: this process's.
	Env []string
	// The command's standard files; nil: this process's.
	Stdin, Stdout, Stderr *os.File
}

// Run runs argv under strace with o's profile in complain mode: every
// access outside the profile is alerted, nothing is blocked. It returns
// the command's exit code.
func Run(o Options, argv []string) (int, *Checker, error) {
	c := &Checker{Profile: o.Profile, Alerts: o.Alerts}
	p := &learn.Parser{Emit: c.Check, SkipLookups: true}
	run := &learn.Runner{Env: o.Env}
	run.Stdin = orFile(o.Stdin, os.Stdin)
	run.Stdout, run.Stderr = orFile(o.Stdout, os.Stdout), orFile(o.Stderr, os.Stderr)
	code, err := run.Run(argv, p, nil)
	return code, c, err
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}
