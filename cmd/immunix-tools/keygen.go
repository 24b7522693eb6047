package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{Name: "keygen", Summary: cli.Summary("keygen"), Run: runKeygen})
}

const keygenUsage = `Usage: immunix keygen KEYFILE

Writes a new ed25519 CryptoMark signing key to KEYFILE (mode 0600) and its
public key to KEYFILE.pub, and prints the key id (the first 8 bytes of the
SHA-256 of the public key, in hex). It never overwrites a file. To trust
the key, copy KEYFILE.pub into /etc/immunix/keys/.

Options:
`

func runKeygen(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("keygen", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		env.Errorf("keygen", "%v (see 'immunix keygen --help')", err)
		return 2
	}
	if *help {
		fmt.Fprint(env.Stdout, keygenUsage, fs.FlagUsages())
		return 0
	}
	if fs.NArg() != 1 {
		env.Errorf("keygen", "want one KEYFILE (see 'immunix keygen --help')")
		return 2
	}
	k, err := cryptomark.GenerateKey(fs.Arg(0))
	if err != nil {
		env.Errorf("keygen", "%v", err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "key id %s: private key %s, public key %s.pub\n", k.ID, fs.Arg(0), fs.Arg(0))
	return 0
}
