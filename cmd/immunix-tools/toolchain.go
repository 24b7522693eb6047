package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/ccwrap"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{
		Name:    "toolchain-config",
		Summary: cli.Summary("toolchain-config"),
		Run:     runToolchainConfig,
	})
}

const toolchainUsage = `Usage: immunix toolchain-config --out DIR [OPTIONS]

Writes the zero-process mode into DIR: a gcc specs file (DIR/immunix.specs)
and a clang configuration file (DIR/immunix-clang.cfg) that add what
immunix-cc adds by default, honour the user's opposite flags, and link the
guard runtime, the FormatGuard headers and the build stamp (mode=specs or
mode=config), which DIR also receives. No immunix process runs per compiler
invocation. What only immunix-cc does (the FormatGuard helper pass and
retry, its probes, logs and IMMUNIX_* settings at build time) is listed in
docs/immunix-cc.md, "Zero-process mode".

Options:
`

const toolchainFooter = `
Use:
  gcc -specs=DIR/immunix.specs ...
  clang --config DIR/immunix-clang.cfg ...

DIR/gcc/specs is gcc's own specs (gcc -dumpspecs) with the mode spliced in:
installed as $(dirname $(gcc -print-libgcc-file-name))/specs, plain gcc
builds in the mode.

IMMUNIX_DISABLE and IMMUNIX_LEVEL (environment or /etc/immunix/immunix.conf)
are read once, now: a protection they turn off is left out of the files and
recorded as off in every stamp.
`

func runToolchainConfig(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("toolchain-config", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		out     = fs.String("out", "", "directory to write into (required)")
		gcc     = fs.String("gcc", "gcc", `gcc command; "" for no specs file`)
		clang   = fs.String("clang", "clang", `clang command; "" for no configuration file`)
		verbose = fs.BoolP("verbose", "v", false, "print each compiler command of the runtime build")
		help    = fs.BoolP("help", "h", false, "show this help")
	)
	fs.Usage = func() {
		fmt.Fprint(env.Stdout, toolchainUsage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fmt.Fprint(env.Stdout, toolchainFooter)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		env.Errorf("toolchain-config", "%v (see 'immunix toolchain-config --help')", err)
		return 2
	}
	if *help {
		fs.Usage()
		return 0
	}
	if fs.NArg() > 0 {
		env.Errorf("toolchain-config", "unexpected argument %q (see 'immunix toolchain-config --help')", fs.Arg(0))
		return 2
	}
	if *out == "" {
		env.Errorf("toolchain-config", "--out DIR is required (see 'immunix toolchain-config --help')")
		return 2
	}
	cfg := env.Getenv("IMMUNIX_CONFIG")
	if cfg == "" {
		cfg = ccwrap.DefaultConfigFile
	}
	pol, err := ccwrap.LoadPolicy(cfg, ccwrap.ReadConfigFile, env.Getenv)
	if err != nil {
		env.Errorf("toolchain-config", "%v", err)
		return 2
	}
	o := ccwrap.ToolchainOptions{Dir: *out, Policy: pol, GCC: strings.Fields(*gcc), Clang: strings.Fields(*clang)}
	// The defaults are the compilers installed; a named one must exist.
	for _, c := range []struct {
		flag string
		cmd  *[]string
	}{{"gcc", &o.GCC}, {"clang", &o.Clang}} {
		if len(*c.cmd) == 0 {
			continue
		}
		if _, err := exec.LookPath((*c.cmd)[0]); err != nil {
			if fs.Changed(c.flag) {
				env.Errorf("toolchain-config", "--%s: %v", c.flag, err)
				return 1
			}
			*c.cmd = nil
		}
	}
	if len(o.GCC) == 0 && len(o.Clang) == 0 {
		if fs.Changed("gcc") && *gcc == "" && fs.Changed("clang") && *clang == "" {
			env.Errorf("toolchain-config", "nothing to write: --gcc and --clang are both empty (see 'immunix toolchain-config --help')")
			return 2
		}
		env.Errorf("toolchain-config", "no compiler: neither gcc nor clang is on PATH (use --gcc or --clang)")
		return 1
	}
	if *verbose {
		o.Log = func(argv []string) { fmt.Fprintln(env.Stderr, strings.Join(argv, " ")) }
	}
	files, err := ccwrap.WriteToolchainConfig(o)
	for _, f := range files {
		fmt.Fprintf(env.Stdout, "%s: %s\n", f.Compiler, f.Use)
		for _, s := range f.Skipped {
			fmt.Fprintf(env.Stderr, "immunix toolchain-config: note: %s: %s\n", f.Compiler, s)
		}
	}
	if err != nil {
		env.Errorf("toolchain-config", "%v", err)
		return 1
	}
	return 0
}
