// Command immunix is the immunix toolchain's front door: the CI gate
// (check), SubDomain confinement (learn, run, alerts), the guard runtime
// (guardlib) and the demo. Each subcommand lives in its own file and
// registers itself in init, with its own pflag flag set.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/immunix/immunix/internal/version"
)

// command is one subcommand of immunix.
type command struct {
	name    string
	summary string // one line for the top-level usage
	// run executes the subcommand with its arguments (without the name) and
	// returns the process exit code. Errors are printed by run itself, one
	// line each, prefixed "immunix NAME: ".
	run func(env *Env, args []string) int
}

// Env carries the process's side effects, so tests can run subcommands in
// process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// Errorf prints one "immunix NAME: ..." line on stderr.
func (e *Env) Errorf(name, format string, args ...any) {
	fmt.Fprintf(e.Stderr, "immunix %s: %s\n", name, fmt.Sprintf(format, args...))
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("immunix: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(Main(env, os.Args[1:]))
}

// Main dispatches args to a subcommand and returns the exit code.
func Main(env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(env, []string{"--help"})
			}
		}
		usage(env.Stdout)
		return 0
	case "--version", "version":
		fmt.Fprintf(env.Stdout, "immunix %s\n", version.Version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "immunix: unknown command %q (see 'immunix --help')\n", args[0])
		return 2
	}
	return c.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: immunix COMMAND [OPTIONS] [ARGS...]\n\nimmunix %s: a hardened toolchain for Linux.\n\nCommands:\n", version.Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'immunix COMMAND --help' for a command's options.\nThe compiler wrapper is a separate program: immunix-cc (see immunix-cc --immunix-help).\n")
}
