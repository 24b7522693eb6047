// Package cli is the subcommand registry shared by immunix's two
// front-end binaries. The lean immunix serves run, guardlib, help and
// version itself and execs immunix-tools (found next to it, or in
// PREFIX/lib/immunix/) for alerts, check and learn, whose packages (ELF
// disassembly, package readers, compressors, log readers) would otherwise
// be loaded and initialised by every immunix run; the split is the way
// git execs its git-* helpers. Both binaries share this package, so usage, help and
// errors read the same whichever binary prints them.
//
//	var reg cli.Registry
//	reg.Register(cli.Command{Name: "run", Summary: "...", Run: runRun})
//	reg.Forward(cli.Tools...) // immunix check ... execs immunix-tools check ...
//	os.Exit(reg.Main(cli.OSEnv(), os.Args[1:]))
package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/immunix/immunix/internal/version"
)

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string // one line for the top-level usage
	// Run executes the subcommand with its arguments (without the name)
	// and returns the exit code. It prints its own errors, one line each,
	// "immunix NAME: ...".
	Run func(env *Env, args []string) int
}

// Env carries the process's side effects, so tests can run subcommands in
// process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Exec replaces the process (forwarded subcommands); nil means
	// syscall.Exec with the process's environment. It returns only on
	// error.
	Exec func(path string, argv []string) error
	// Executable is this program's path, where immunix-tools is looked
	// for; "" means os.Executable().
	Executable string
}

// OSEnv is the real process's Env.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Errorf prints one "immunix NAME: ..." line on stderr.
func (e *Env) Errorf(name, format string, args ...any) {
	fmt.Fprintf(e.Stderr, "immunix %s: %s\n", name, fmt.Sprintf(format, args...))
}

// ToolsName is the program that serves the heavy subcommands.
const ToolsName = "immunix-tools"

// Tools are the subcommands immunix-tools serves, with the summaries the
// lean immunix lists for them.
var Tools = []Command{
	{Name: "alerts", Summary: "summarise or follow immunix alerts from syslog files or the journal"},
	{Name: "check", Summary: "prove what each binary carries: the CI gate for ELF files, directories, .deb and .rpm"},
	{Name: "learn", Summary: "learn a program's SubDomain profile by running it under strace"},
	{Name: "keygen", Summary: "make a CryptoMark signing key (KEYFILE) and its public key (KEYFILE.pub)"},
	{Name: "sign", Summary: "sign ELF programs and libraries with CryptoMark, or --verify their signatures"},
	{Name: "markd", Summary: "the CryptoMark gate: let only signed programs run (fanotify daemon)"},
	{Name: "toolchain-config", Summary: "write gcc specs and a clang configuration file: immunix's protections with no wrapper process"},
}

// Summary returns the summary of the tools subcommand name; it panics
// for a name not in Tools, which is a programming error a test catches.
func Summary(name string) string {
	for _, c := range Tools {
		if c.Name == name {
			return c.Summary
		}
	}
	panic("cli: no tools command " + name)
}

// ExitNoTools is the exit code when a forwarded subcommand finds no
// immunix-tools to run (the shell's "command not found").
const ExitNoTools = 127

// Registry holds one binary's subcommands.
type Registry struct {
	cmds map[string]Command
}

// Register adds c; a name registered twice is a programming error.
func (r *Registry) Register(c Command) {
	if r.cmds == nil {
		r.cmds = map[string]Command{}
	}
	if _, dup := r.cmds[c.Name]; dup {
		panic("immunix: subcommand registered twice: " + c.Name)
	}
	r.cmds[c.Name] = c
}

// Forward registers each command as one that execs immunix-tools with
// the same name and arguments: stdin, stdout, stderr, the environment,
// signals and the exit code are immunix-tools' own.
func (r *Registry) Forward(cmds ...Command) {
	for _, c := range cmds {
		name := c.Name
		r.Register(Command{Name: name, Summary: c.Summary, Run: func(env *Env, args []string) int {
			return Forward(env, name, args)
		}})
	}
}

// Names returns the registered subcommands, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.cmds))
	for n := range r.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Main dispatches args to a subcommand and returns the exit code.
func (r *Registry) Main(env *Env, args []string) int {
	if len(args) == 0 {
		r.Usage(env.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := r.cmds[args[1]]; ok {
				return c.Run(env, []string{"--help"})
			}
		}
		r.Usage(env.Stdout)
		return 0
	case "--version", "version":
		fmt.Fprintf(env.Stdout, "immunix %s\n", version.Version)
		return 0
	}
	c, ok := r.cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "immunix: unknown command %q (see 'immunix --help')\n", args[0])
		return 2
	}
	return c.Run(env, args[1:])
}

// Usage prints the top-level usage with every registered subcommand.
func (r *Registry) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: immunix COMMAND [OPTIONS] [ARGS...]\n\nimmunix %s: a hardened toolchain for Linux.\n\nCommands:\n", version.Version)
	names := r.Names()
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, r.cmds[n].Summary)
	}
	fmt.Fprint(w, "\nRun 'immunix COMMAND --help' for a command's options.\nThe compiler wrapper is a separate program: immunix-cc (see immunix-cc --immunix-help).\n")
}

// FindTools returns the immunix-tools program for the program at exe
// (FindHelper).
func FindTools(exe string) (string, error) { return FindHelper(exe, ToolsName) }

// FindHelper returns the helper program name for the program at exe:
// next to it (a build or bin directory), else PREFIX/lib/immunix/ where
// exe is PREFIX/bin/immunix. Symbolic links to exe are followed first.
func FindHelper(exe, name string) (string, error) {
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	dir := filepath.Dir(exe)
	candidates := []string{
		filepath.Join(dir, name),
		filepath.Join(filepath.Dir(dir), "lib", "immunix", name),
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s not found (looked for %s and %s): reinstall immunix", name, candidates[0], candidates[1])
}

// Forward execs immunix-tools NAME ARGS (see FindTools) and returns only
// when that fails (exit ExitNoTools), or when a test's Env.Exec returns.
func Forward(env *Env, name string, args []string) int {
	exe := env.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			env.Errorf(name, "find this program: %v", err)
			return ExitNoTools
		}
	}
	tools, err := FindTools(exe)
	if err != nil {
		env.Errorf(name, "%v", err)
		return ExitNoTools
	}
	argv := append([]string{ToolsName, name}, args...)
	run := env.Exec
	if run == nil {
		run = func(path string, argv []string) error { return syscall.Exec(path, argv, os.Environ()) }
	}
	if err := run(tools, argv); err != nil {
		env.Errorf(name, "exec %s: %v", tools, err)
		return ExitNoTools
	}
	return 0 // only a test's Exec returns
}
