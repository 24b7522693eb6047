// Command immunix is the immunix toolchain's front door: SubDomain
// confinement (run, alerts), the guard runtime (guardlib), and, through
// immunix-tools, the CI gate (check) and profile learning (learn). Each
// subcommand lives in its own file and registers itself in init, with its
// own pflag flag set.
//
// This binary is kept lean because immunix run starts before every
// confined program: it links no ELF disassembler, no .deb/.rpm reader and
// no xz or zstd (their package initialisers alone cost 0.3-0.5 ms of every
// start). "immunix check ..." and "immunix learn ..." exec
// immunix-tools (next to this program, or in PREFIX/lib/immunix/) with the
// same arguments; "immunix --help" lists every command either way. A test
// (TestLean) keeps the heavy packages out.
package main

import (
	"os"

	"github.com/immunix/immunix/internal/cli"
)

// registry holds this binary's subcommands; the files register into it.
var registry cli.Registry

func init() {
	registry.Forward(cli.Tools...)
}

func main() {
	os.Exit(registry.Main(cli.OSEnv(), os.Args[1:]))
}
