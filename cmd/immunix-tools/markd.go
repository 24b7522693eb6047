package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/cryptomark/gate"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{Name: "markd", Summary: cli.Summary("markd"), Run: runMarkd})
}

const markdUsage = `Usage: immunix markd --mark PATH... [--foreground] [--policy FILE] [--keys DIR]
                    [--audit] [--libraries] [--syslog-socket SOCKET]

The CryptoMark gate. It marks the filesystem of every --mark PATH with
fanotify (FAN_OPEN_EXEC_PERM) and decides each program about to run from
those filesystems: the first rule of the policy whose path prefix holds
the program says require-signed (run only when signed by a trusted key and
unchanged since), allow (run; only for files owned by root and writable by
nobody else, else require-signed) or audit (run, and alert when not
signed). A denied exec fails with EPERM and raises one kind=cryptomark
alert to syslog (read them with 'immunix alerts'). --audit runs everything
and alerts what would have been denied. --libraries also gates every open
of an ELF shared object there (libraries that ld.so maps, dlopen,
LD_PRELOAD; PIE programs opened for reading too), at the cost of making
every open on the marked filesystems wait for the gate. Needs root.

A file verified signed by a trusted key, owned by root, writable by
nobody else, open for writing by nobody and on a local filesystem gets a
fanotify ignore mark: its next execs no longer wait for the daemon. The
kernel removes the mark when the file is written or truncated, so the
next exec is checked again (--no-kernel-cache turns this off; see
docs/cryptomark.md for the one change it does not see).

Every event is answered within --timeout: a verification that takes
longer is answered by the policy (denied where a signature is required).
Killing the daemon, even with kill -9, lets every waiting exec go on.

Without --foreground it detaches once ready. It prints "immunix markd:
ready" on standard output and, when NOTIFY_SOCKET is set (systemd's
Type=notify), sends READY=1 there, once the filesystems are marked: an exec
that starts after it is gated. SIGTERM or SIGINT sends STOPPING=1, stops it
and prints its counters.

Options:
`

func runMarkd(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("markd", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	marks := fs.StringArray("mark", nil, "gate every exec from the filesystem holding `PATH` (repeatable; at least one)")
	foreground := fs.Bool("foreground", false, "stay in the foreground (tests, containers, systemd)")
	policyFile := fs.String("policy", gate.DefaultPolicyFile, "policy `FILE`: lines \"PATH-PREFIX require-signed|allow|audit\", first match wins")
	keysDir := fs.String("keys", cryptomark.DefaultKeysDir, "trusted public keys, one file each, in `DIR`")
	audit := fs.Bool("audit", false, "allow everything; alert what would have been denied")
	libraries := fs.Bool("libraries", false, "also gate every open of an ELF shared object (FAN_OPEN_PERM: every open on the marked filesystems waits for the gate)")
	sock := fs.String("syslog-socket", "", "send alerts to `SOCKET` instead of /dev/log")
	timeout := fs.Duration("timeout", gate.DefaultTimeout, "answer every exec within `DURATION`, by policy if its verification has not finished")
	workers := fs.Int("workers", gate.DefaultWorkers, "verify up to `N` programs at once")
	noKernelCache := fs.Bool("no-kernel-cache", false, "send every exec of a verified file to the gate (no fanotify ignore marks)")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		env.Errorf("markd", "%v (see 'immunix markd --help')", err)
		return 2
	}
	if *help {
		fmt.Fprint(env.Stdout, markdUsage, fs.FlagUsages())
		return 0
	}
	if fs.NArg() > 0 {
		env.Errorf("markd", "unexpected argument %q (see 'immunix markd --help')", fs.Arg(0))
		return 2
	}
	if *timeout <= 0 || *timeout > time.Minute || *workers < 1 || *workers > 256 {
		env.Errorf("markd", "--timeout must be in (0, 1m] and --workers in 1..256")
		return 2
	}
	pol, err := gate.LoadPolicy(*policyFile)
	if err != nil {
		env.Errorf("markd", "%v", err)
		return 2
	}
	ring, err := cryptomark.LoadKeyring(*keysDir)
	if err != nil {
		env.Errorf("markd", "%v", err)
		return 2
	}
	if !*foreground {
		exe, err := os.Executable()
		if err != nil {
			env.Errorf("markd", "%v", err)
			return 1
		}
		pid, err := gate.Background(exe, append([]string{"markd", "--foreground"}, args...))
		if err != nil {
			env.Errorf("markd", "%v", err)
			return 1
		}
		fmt.Fprintf(env.Stdout, "%s (pid %d)\n", gate.ReadyLine, pid)
		return 0
	}
	// A closed standard output (a detached daemon) must not kill the gate.
	signal.Ignore(syscall.SIGPIPE)
	g, err := gate.Open(gate.Config{
		Policy: pol, Keys: ring, Audit: *audit, Libraries: *libraries, Marks: *marks, Timeout: *timeout, Workers: *workers,
		Alerts: &alert.Writer{Socket: *sock}, Log: env.Stderr, NoKernelCache: *noKernelCache,
	})
	if err != nil {
		env.Errorf("markd", "%v", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		// systemd (Type=notify) learns the stop is the daemon's own.
		if err := gate.Notify("STOPPING=1"); err != nil {
			env.Errorf("markd", "%v", err)
		}
		g.Close()
	}()
	mode := "enforcing"
	if *audit {
		mode = "audit"
	}
	fmt.Fprintf(env.Stdout, "%s (%s; %d trusted keys; marked: %s)\n", gate.ReadyLine, mode, len(ring.IDs()), strings.Join(*marks, " "))
	if err := gate.Notify("READY=1"); err != nil {
		env.Errorf("markd", "%v", err)
	}
	err = g.Run()
	fmt.Fprintf(env.Stderr, "immunix markd: stopped: %s\n", g.Stats())
	if err != nil {
		env.Errorf("markd", "%v", err)
		return 1
	}
	return 0
}
