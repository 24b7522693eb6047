// Command immunix is the immunix toolchain's front door: SubDomain
// confinement (run), the guard runtime (guardlib), and, through
// immunix-tools, the CI gate (check), profile learning (learn) and the
// alert summary (alerts). Each subcommand lives in its own file and
// registers itself in init, with its own pflag flag set.
//
// This binary is kept lean because immunix run starts before every
// confined program: it links no ELF disassembler, no .deb/.rpm reader, no
// log reader and no gzip, xz or zstd (their package initialisers and size
// cost 0.5-0.8 ms of every start, measured). "immunix check ...",
// "immunix learn ..." and "immunix alerts ..." exec
// immunix-tools (next to this program, or in PREFIX/lib/immunix/) with the
// same arguments; "immunix --help" lists every command either way. A test
// (TestLean) keeps the heavy packages out.
package main

import (
	"os"

	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/subdomain/enforce"
)

// registry holds this binary's subcommands; the files register into it.
var registry cli.Registry

func init() {
	registry.Forward(cli.Tools...)
}

func main() {
	// immunix run's supervisor: the same binary, re-executed by it.
	if len(os.Args) > 1 && os.Args[1] == enforce.SupervisorCommand {
		os.Exit(enforce.Supervise(os.Args[2:]))
	}
	os.Exit(registry.Main(cli.OSEnv(), os.Args[1:]))
}
