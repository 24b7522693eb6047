package main

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{Name: "sign", Summary: cli.Summary("sign"), Run: runSign})
}

const signUsage = `Usage: immunix sign --key KEYFILE FILE|DIR...
       immunix sign --verify [--keys DIR] FILE|DIR...

Signs ELF executables and shared libraries with CryptoMark: a signature
trailer naming the key id is appended after the file's last byte and
covers every byte before it (docs/cryptomark.md). Directories are walked
(symbolic links are not followed); files that are not ELF executables or
shared libraries are skipped, each named on standard error. A file that
is already signed is signed again (its old signature replaced). Sign after
the last change to the file: strip, objcopy and the like drop the
signature.

--verify checks the signatures against the trusted public keys (one file
each in --keys DIR) and prints one line per file.

Exit status: 0 every file was signed (or, with --verify, is signed by a
trusted key and unchanged), 1 otherwise, 2 usage error.

Options:
`

func runSign(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("sign", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	keyFile := fs.String("key", "", "sign with the private key in `KEYFILE` (from immunix keygen)")
	verify := fs.Bool("verify", false, "verify signatures instead of signing")
	keysDir := fs.String("keys", cryptomark.DefaultKeysDir, "trusted public keys, one file each, in `DIR` (--verify)")
	quiet := fs.BoolP("quiet", "q", false, "print only failures and skipped files")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		env.Errorf("sign", "%v (see 'immunix sign --help')", err)
		return 2
	}
	if *help {
		fmt.Fprint(env.Stdout, signUsage, fs.FlagUsages())
		return 0
	}
	if fs.NArg() == 0 {
		env.Errorf("sign", "no FILE given (see 'immunix sign --help')")
		return 2
	}
	if *verify == (*keyFile != "") {
		env.Errorf("sign", "give either --key KEYFILE (sign) or --verify")
		return 2
	}
	var do func(path string, explicit bool) bool
	if *verify {
		ring, err := cryptomark.LoadKeyring(*keysDir)
		if err != nil {
			env.Errorf("sign", "%v", err)
			return 2
		}
		do = func(path string, explicit bool) bool {
			v := cryptomark.VerifyFile(path, ring)
			if !explicit && !v.Signed {
				if err := cryptomark.IsSignable(path); err != nil {
					return true // a directory's non-ELF files are not verified
				}
			}
			if v.OK() {
				if !*quiet {
					fmt.Fprintf(env.Stdout, "%s: ok, signed by trusted key %s\n", path, v.KeyID)
				}
				return true
			}
			if v.KeyID != "" {
				fmt.Fprintf(env.Stdout, "%s: FAILED, key %s: %v\n", path, v.KeyID, v.Err)
			} else {
				fmt.Fprintf(env.Stdout, "%s: FAILED: %v\n", path, v.Err)
			}
			return false
		}
	} else {
		k, err := cryptomark.LoadPrivateKey(*keyFile)
		if err != nil {
			env.Errorf("sign", "%v", err)
			return 2
		}
		do = func(path string, explicit bool) bool {
			_, err := cryptomark.SignFile(path, k)
			switch {
			case errors.Is(err, cryptomark.ErrNotELF):
				fmt.Fprintf(env.Stderr, "immunix sign: skipped %s: %v\n", path, errors.Unwrap(err))
				return !explicit
			case err != nil:
				env.Errorf("sign", "%v", err)
				return false
			}
			if !*quiet {
				fmt.Fprintf(env.Stdout, "%s: signed with key %s\n", path, k.ID)
			}
			return true
		}
	}
	ok := true
	for _, arg := range fs.Args() {
		st, err := os.Stat(arg)
		if err != nil {
			env.Errorf("sign", "%v", err)
			ok = false
			continue
		}
		if !st.IsDir() {
			ok = do(arg, true) && ok
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d iofs.DirEntry, err error) error {
			if err != nil {
				env.Errorf("sign", "%v", err)
				ok = false
				return nil
			}
			if d.Type().IsRegular() {
				ok = do(p, false) && ok
			}
			return nil
		})
		if err != nil {
			env.Errorf("sign", "%v", err)
			ok = false
		}
	}
	if !ok {
		return 1
	}
	return 0
}
