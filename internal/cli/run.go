package cli

import "github.com/spf13/pflag"

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
	fs.BoolVar(&o.NoAudit, "no-audit", false, "do not read the kernel's audit records: denials are enforced but not alerted")
	fs.StringVar(&o.SyslogSocket, "syslog-socket", "", "send alerts to this syslog `SOCKET` (default $IMMUNIX_SYSLOG_SOCKET, else /dev/log)")
	fs.BoolVar(&o.Plan, "plan", false, "print the Landlock rules and seccomp list the profile compiles to, and exit")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "print every note on what Landlock cannot enforce of the profile")
	fs.BoolVarP(&o.Help, "help", "h", false, "show this help")
}
