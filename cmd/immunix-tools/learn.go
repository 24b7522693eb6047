package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/learn"
	"github.com/immunix/immunix/subdomain/learn/tracefile"
)

func init() {
	registry.Register(cli.Command{
		Name:    "learn",
		Summary: cli.Summary("learn"),
		Run:     runLearn,
	})
}

const learnUsage = `Usage: immunix learn [OPTIONS] -- CMD [ARGS...]
       immunix learn [OPTIONS] --from-trace TRACE [--from-trace TRACE...]

Runs CMD under strace -f (from its first execve, with --seccomp-bpf), and
writes the profile of what it did: the files it read, wrote, created,
mapped and executed, the TCP ports it bound and connected to, and the
dangerous system calls it made. Each executed child program gets a nested
profile (px) unless --inherit. The raw trace is kept zstd-compressed next
to the profile (PROFILE.trace.zst) so --from-trace can replay it.

Run the program through its test suite: several runs merge with --merge
(existing profiles) or several --from-trace. Without -o the profile goes
to standard output and CMD's own output to standard error. The exit code
is CMD's.

Options:
`

type learnConfig struct {
	output    string
	format    string
	merge     []string
	traces    []string
	explain   bool
	inherit   bool
	globMin   int
	globDepth int
	noTrace   bool
	argv      []string
}

func runLearn(env *cli.Env, args []string) int {
	var c learnConfig
	fs := pflag.NewFlagSet("learn", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVarP(&c.output, "output", "o", "", "write the profile to `PROFILE` (default: standard output)")
	fs.StringVar(&c.format, "format", "subdomain", "profile `FORMAT`: subdomain or apparmor")
	fs.StringArrayVar(&c.merge, "merge", nil, "merge the rules of an existing `PROFILE` (repeatable)")
	fs.StringArrayVar(&c.traces, "from-trace", nil, "replay a kept `TRACE` instead of running a command (repeatable)")
	fs.BoolVar(&c.explain, "explain", false, "show under each rule the trace lines that produced it")
	fs.BoolVar(&c.inherit, "inherit", false, "executed children inherit the profile (ix) instead of nested profiles (px)")
	fs.IntVar(&c.globMin, "glob-min", 4, "siblings with one mode needed before a directory becomes DIR/*")
	fs.IntVar(&c.globDepth, "glob-depth", 2, "smallest directory depth that may become DIR/*")
	fs.BoolVar(&c.noTrace, "no-keep-trace", false, "do not keep the compressed trace")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, learnUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *help {
		fs.SetOutput(env.Stdout)
		fmt.Fprint(env.Stdout, learnUsage)
		fs.PrintDefaults()
		return 0
	}
	c.argv = fs.Args()
	if len(c.argv) == 0 && len(c.traces) == 0 {
		env.Errorf("learn", "no command: give -- CMD [ARGS...] or --from-trace TRACE")
		return 2
	}
	if len(c.argv) > 0 && len(c.traces) > 0 {
		env.Errorf("learn", "give either a command or --from-trace, not both")
		return 2
	}
	if c.format != "subdomain" && c.format != "apparmor" {
		env.Errorf("learn", "unknown --format %q (want subdomain or apparmor)", c.format)
		return 2
	}
	if c.globMin < 2 || c.globDepth < 1 {
		env.Errorf("learn", "--glob-min must be at least 2 and --glob-depth at least 1")
		return 2
	}
	code, err := learnMain(env, &c)
	if err != nil {
		env.Errorf("learn", "%v", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func learnMain(env *cli.Env, c *learnConfig) (int, error) {
	job := &learn.Job{
		Options: learn.Options{Inherit: c.inherit, GlobMin: c.globMin, GlobMinDepth: c.globDepth, ResolveExec: true},
		Argv:    c.argv, Traces: c.traces, Merge: c.merge,
		OpenTrace: func(name string) (io.ReadCloser, error) { return tracefile.Open(name) },
		Stdin:     env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		Warn: func(s string) { env.Errorf("learn", "%s", s) },
	}
	if c.output == "" {
		job.Stdout = env.Stderr // the profile goes to stdout
	}
	var keep io.WriteCloser
	var traceFile *os.File
	if len(c.argv) > 0 && c.output != "" && !c.noTrace {
		f, err := os.Create(c.output + ".trace.zst")
		if err != nil {
			return 1, fmt.Errorf("keep trace: %w", err)
		}
		if keep, err = tracefile.NewWriter(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return 1, err
		}
		traceFile = f
		job.KeepTrace = keep
	}
	prof, exit, err := job.Run()
	if keep != nil {
		if cerr := keep.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("keep trace: %w", cerr)
		}
		if cerr := traceFile.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("keep trace: %w", cerr)
		}
		if err != nil {
			os.Remove(traceFile.Name())
		}
	}
	if err != nil {
		if errors.Is(err, learn.ErrNoStrace) {
			return 127, err
		}
		return 1, err
	}
	var out bytes.Buffer
	switch {
	case c.explain:
		err = learn.WriteExplain(&out, prof)
	case c.format == "apparmor":
		err = subdomain.FormatAppArmor(&out, prof)
	default:
		err = subdomain.Format(&out, prof)
	}
	if err != nil {
		return 1, err
	}
	if c.output == "" || c.explain {
		env.Stdout.Write(out.Bytes())
	}
	if c.output != "" {
		if c.explain {
			out.Reset()
			if c.format == "apparmor" {
				subdomain.FormatAppArmor(&out, prof)
			} else {
				subdomain.Format(&out, prof)
			}
		}
		if err := os.WriteFile(c.output, out.Bytes(), 0o644); err != nil {
			return 1, fmt.Errorf("write profile: %w", err)
		}
		fmt.Fprintf(env.Stderr, "immunix learn: wrote %s (%s)\n", c.output, prof.Count())
	}
	return exit, nil
}
