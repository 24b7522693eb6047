package enforce

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/subdomain"
)

// Options are immunix run's options. Both binaries parse them: immunix
// enforces, and execs immunix-tools for run --complain, which needs the
// strace learner that immunix does not link.
type Options struct {
	Profile      string
	Complain     bool
	NoAudit      bool
	SyslogSocket string
	Plan         bool
	Verbose      bool
	Help         bool
}

// Flags defines the options on fs.
func (o *Options) Flags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Profile, "profile", "p", "", "the SubDomain `PROFILE` to enforce (required)")
	fs.BoolVar(&o.Complain, "complain", false, "do not block: run under strace and alert every access outside the profile")
	fs.BoolVar(&o.NoAudit, "no-audit", false, "do not read the kernel's audit records: denials are enforced but not alerted")
	fs.StringVar(&o.SyslogSocket, "syslog-socket", "", "send alerts to this syslog `SOCKET` (default $IMMUNIX_SYSLOG_SOCKET, else /dev/log)")
	fs.BoolVar(&o.Plan, "plan", false, "print the Landlock rules and seccomp list the profile compiles to, and exit")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "print every note on what Landlock cannot enforce of the profile")
	fs.BoolVarP(&o.Help, "help", "h", false, "show this help")
}

// ErrUsage is matched (errors.Is) by what Check refuses: the command line
// is wrong (exit 2).
var ErrUsage = errors.New("bad usage")

// usageError is a refusal of Check, said as the user reads it.
type usageError string

func (e usageError) Error() string        { return string(e) }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Check refuses a command line that cannot run: no profile, or no
// command (with --plan none is needed).
func (o *Options) Check(argv []string) error {
	if o.Profile == "" {
		return usageError("--profile is required")
	}
	if len(argv) == 0 && !o.Plan {
		return usageError("no command: give -- CMD [ARGS...]")
	}
	return nil
}

// NewRunner loads the profile and returns the Runner both modes start
// from: the alert writer (--syslog-socket, else $IMMUNIX_SYSLOG_SOCKET
// from getenv, else /dev/log; alerts also on stderr), --no-audit, and the
// standard files when they are files. Notes are left to the caller
// (immunix run prints them only with -v).
func (o *Options) NewRunner(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*Runner, error) {
	prof, err := subdomain.Load(o.Profile)
	if err != nil {
		return nil, err
	}
	socket := o.SyslogSocket
	if socket == "" && getenv != nil {
		socket = getenv(alert.SocketEnv)
	}
	r := &Runner{Profile: prof, Alerts: &alert.Writer{Socket: socket, Stderr: stderr}, NoAudit: o.NoAudit}
	if f, ok := stdin.(*os.File); ok {
		r.Stdin = f
	}
	if f, ok := stdout.(*os.File); ok {
		r.Stdout = f
	}
	if f, ok := stderr.(*os.File); ok {
		r.Stderr = f
	}
	return r, nil
}
