package main

import (
	"github.com/spf13/pflag"

	"github.com/immunix/immunix/internal/cli"
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
	var o enforce.Options
	o.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !o.Complain || o.Help {
		env.Errorf("run", "immunix-tools serves only run --complain; see 'immunix run --help'")
		return 2
	}
	argv := fs.Args()
	if err := o.Check(argv); err != nil {
		env.Errorf("run", "%v", err)
		return 2
	}
	r, err := o.NewRunner(env.Getenv, env.Stdin, env.Stdout, env.Stderr)
	if err != nil {
		env.Errorf("run", "%v", err)
		return 1
	}
	code, c, err := complain.Run(complain.Options{Profile: r.Profile, Alerts: r.Alerts, Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr}, argv)
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
