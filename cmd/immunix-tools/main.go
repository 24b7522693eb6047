// Command immunix-tools serves immunix's heavy subcommands, alerts, check
// and learn, which immunix execs with the same arguments ("immunix check
// PATHS" runs "immunix-tools check PATHS"); it is installed in
// PREFIX/lib/immunix/, not on PATH. They live apart so that immunix run,
// which starts before every confined program, does not load and
// initialise their packages (ELF disassembly, .deb/.rpm readers, log
// readers, gzip, xz, zstd). Each subcommand lives in its own file and
// registers itself in init.
package main

import (
	"os"

	"github.com/immunix/immunix/internal/cli"
)

// registry holds this binary's subcommands; the files register into it.
var registry cli.Registry

func main() {
	os.Exit(registry.Main(cli.OSEnv(), os.Args[1:]))
}
