package cli

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/enforce"
)

// RunOptions are immunix run's options. Both binaries parse them: immunix
// enforces, and execs immunix-tools for run --complain, which needs the
// strace learner that immunix does not link.
type RunOptions struct {
	Profile      string
	Complain     bool
	NoAudit      bool
	SyslogSocket string
	Plan         bool
	Verbose      bool
	Help         bool
}

// Flags defines the options on fs.
func (o *RunOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Profile, "profile", "p", "", "the SubDomain `PROFILE` to enforce (required)")
	fs.BoolVar(&o.Complain, "complain", false, "do not block: run under strace and alert every access outside the profile")
	fs.BoolVar(&o.NoAudit, "no-audit", false, "do not read the kernel's audit records: exec CMD directly, denials are not alerted")
	fs.StringVar(&o.SyslogSocket, "syslog-socket", "", "send alerts to this syslog `SOCKET` (default $IMMUNIX_SYSLOG_SOCKET, else /dev/log)")
	fs.BoolVar(&o.Plan, "plan", false, "print the Landlock rules and seccomp list the profile compiles to, and exit")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "print every note on what Landlock cannot enforce of the profile")
	fs.BoolVarP(&o.Help, "help", "h", false, "show this help")
}

// Runner reads and parses the profile o names and returns the Runner that
// confines a command with it: the process's standard files, alerts to
// o.SyslogSocket (else $IMMUNIX_SYSLOG_SOCKET, else /dev/log), notes as
// "immunix run: ..." lines. On error it has printed one line and returns
// the exit code.
func (o *RunOptions) Runner(env *Env) (*enforce.Runner, int) {
	data, err := os.ReadFile(o.Profile)
	if err != nil {
		env.Errorf("run", "read profile: %v", err)
		return nil, 1
	}
	prof, err := subdomain.Parse(o.Profile, data)
	if err != nil {
		env.Errorf("run", "%v", err)
		return nil, 1
	}
	socket := o.SyslogSocket
	if socket == "" && env.Getenv != nil {
		socket = env.Getenv(alert.SocketEnv)
	}
	r := &enforce.Runner{Profile: prof, Alerts: &alert.Writer{Socket: socket, Stderr: env.Stderr}, NoAudit: o.NoAudit,
		Notef: func(format string, args ...any) { env.Errorf("run", format, args...) }}
	if f, ok := env.Stdin.(*os.File); ok {
		r.Stdin = f
	}
	if f, ok := env.Stdout.(*os.File); ok {
		r.Stdout = f
	}
	if f, ok := env.Stderr.(*os.File); ok {
		r.Stderr = f
	}
	return r, 0
}
