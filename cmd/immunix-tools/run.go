package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/complain"
	"github.com/immunix/immunix/subdomain/enforce"
)

func init() {
	registry.Register(cli.Command{
		Name:    "run",
		Summary: "complain mode of immunix run (immunix execs it for run --complain)",
		Run:     runComplain,
	})
}

// runComplain serves "immunix run --complain": the same options as
// immunix run (whose --help describes them), CMD under strace, every
// access outside the profile alerted.
func runComplain(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o cli.RunOptions
	o.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !o.Complain || o.Help {
		env.Errorf("run", "immunix-tools serves only run --complain; see 'immunix run --help'")
		return 2
	}
	argv := fs.Args()
	if o.Profile == "" {
		env.Errorf("run", "--profile is required")
		return 2
	}
	if len(argv) == 0 {
		env.Errorf("run", "no command: give -- CMD [ARGS...]")
		return 2
	}
	prof, err := subdomain.Load(o.Profile)
	if err != nil {
		env.Errorf("run", "%v", err)
		return 1
	}
	socket := o.SyslogSocket
	if socket == "" && env.Getenv != nil {
		socket = env.Getenv(alert.SocketEnv)
	}
	r := &enforce.Runner{Profile: prof, Alerts: &alert.Writer{Socket: socket, Stderr: env.Stderr},
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
	code, c, err := complain.Run(r, argv)
	if err != nil {
		env.Errorf("run", "%v", err)
		if code == 0 {
			code = 1
		}
		return code
	}
	if c.Violations > 0 {
		env.Errorf("run", "complain mode: %d accesses outside %s (alerted)", c.Violations, o.Profile)
	}
	return code
}
