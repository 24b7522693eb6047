package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/subdomain/enforce"
)

func init() {
	registry.Register(cli.Command{
		Name:    "run",
		Summary: "run a program confined by its SubDomain profile (Landlock + seccomp)",
		Run:     runRun,
	})
}

const runUsage = `Usage: immunix run --profile PROFILE [OPTIONS] -- CMD [ARGS...]

Enforces PROFILE on CMD and everything it runs: Landlock restricts files,
TCP ports, signals and abstract unix sockets to the profile's rules
(negotiating the best ABI the kernel offers), and a seccomp filter
refuses SubDomain's dangerous system calls (mount, mknod, ptrace, module
loading, reboot, ...) unless the profile grants them with "syscall NAME",
and UDP, MPTCP, raw sockets, TCP fast open, executable memfds and set-uid
files unless the profile allows them. CMD is exec'd in immunix run's
process (its exit status is CMD's). A supervisor, started first outside
the confinement, performs CMD's chmod/chown/utimes/setxattr calls itself
where the profile lets CMD write the file (w or c rules; never a set-uid
bit or file capabilities; "syscall chmod|chown|utimes|setxattr" grants a
family on every path), with the calling thread's credentials, so a CMD
that dropped root gets the kernel's own answer, unalerted; it checks
its listen() calls and turns the denials the kernel audits (Landlock
ABI 7+, seccomp; root) into "subdomain" alerts in syslog and on stderr
(turning the kernel's audit on if it is off; the last concurrent immunix
run to end turns it off again). When nothing needs it (--no-audit or no alerts, no TCP bind rule, no write
rule) no supervisor is started and those calls are refused. immunix
run's own notes are printed only with -v.

With --complain nothing is blocked: CMD runs under strace and every
access outside the profile is alerted.

Options:
`

func runRun(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o enforce.Options
	o.Flags(fs)
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, runUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Help {
		fmt.Fprint(env.Stdout, runUsage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return 0
	}
	argv := fs.Args()
	if err := o.Check(argv); err != nil {
		env.Errorf("run", "%v", err)
		return 2
	}
	if o.Complain {
		// Complain mode runs the strace learner, which this binary does
		// not link: immunix-tools serves it, with the same arguments.
		return cli.Forward(env, "run", args)
	}
	notef := func(format string, args ...any) { env.Errorf("run", format, args...) }
	var verbosef func(string, ...any)
	// A confined program's stderr is the program's: notes only with -v.
	if o.Verbose {
		verbosef = notef
	}
	stub := findStub(env, verbosef)
	stderr, _ := env.Stderr.(*os.File)
	// The supervisor (or its stand-in) is started before the profile is
	// read when the run will all but surely need it: its start overlaps
	// with everything immunix run does.
	var early *enforce.SupervisorStart
	if !o.Plan && enforce.WillSupervise(o.NoAudit) {
		var err error
		if early, err = enforce.StartSupervisor(stub, stderr); err != nil {
			env.Errorf("run", "%v", err)
			return 1
		}
	}
	r, err := o.NewRunner(env.Getenv, env.Stdin, env.Stdout, env.Stderr)
	if err != nil {
		env.Errorf("run", "%v", err)
		return 1
	}
	r.Notef = verbosef
	r.SupervisorStub = stub
	r.Supervisor = early
	pl, err := enforce.Compile(r.Profile, enforce.KernelABI())
	if err != nil {
		env.Errorf("run", "%v", err)
		return 1
	}
	r.Plan = pl
	if o.Plan {
		fmt.Fprint(env.Stdout, pl.String())
		return 0
	}
	for _, n := range pl.Notes {
		if o.Verbose || strings.HasPrefix(n, "kernel ") {
			notef("note: %s", n)
		}
	}
	// Run execs CMD in this process: it returns only on error.
	code, err := r.Run(argv)
	env.Errorf("run", "%v", err)
	return code
}

// findStub returns the supervisor's stand-in installed with this program
// (enforce.StubName, beside immunix-tools), or "" when there is none or
// it cannot be trusted: the supervisor then starts at once, as a Go
// program, which works the same and costs the confined program's start
// more CPU.
func findStub(env *cli.Env, notef func(string, ...any)) string {
	note := func(format string, args ...any) {
		if notef != nil {
			notef(format, args...)
		}
	}
	exe := env.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return ""
		}
	}
	stub, err := cli.FindHelper(exe, enforce.StubName)
	if err == nil {
		stub, err = enforce.TrustedStub(stub)
	}
	if err != nil {
		note("no stand-in for the supervisor, which starts at once if the run needs one: %v", err)
		return ""
	}
	return stub
}
