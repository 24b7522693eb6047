package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{
		Name:    "guardlib",
		Summary: "build, prebuild or locate the guard runtime archive",
		Run:     runGuardlib,
	})
}

const guardlibUsage = `Usage: immunix guardlib [OPTIONS]

Builds and locates the guard runtime (libimmunix-guard.a) that immunix-cc links
into protected programs: StackGuard alerts, canary renewal after fork, FORTIFY
alerts and FormatGuard checks. One archive exists per compiler build and ABI.

With no mode option, prints the archive path for each --cc and --abi
(building it into the cache if needed), like --print-archive.

Options:
`

const guardlibFooter = `
Examples:
  immunix guardlib --print-archive --cc clang --abi -m32
  immunix guardlib --prebuild --cc gcc --cc clang --abi "" --abi -m32

--prebuild writes DEST/KEY/libimmunix-guard.a, the other archives and the
linker's export lists for each compiler and ABI, and the FormatGuard wrapper
headers into DEST/formatguard-include-HASH (DEST defaults to %s);
immunix-cc then uses them instead of building into its cache (%s).
With --same-as KEY2, --prebuild builds nothing: DEST/KEY gets a relative
symbolic link to each file of DEST/KEY2, the runtime already prebuilt for the
same compiler binary under another name (cc and gcc, say).
`

func runGuardlib(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("guardlib", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		prebuild  = fs.Bool("prebuild", false, "build the archives into the system directory (--dest)")
		printArch = fs.Bool("print-archive", false, "print the archive path, building it into the cache if needed")
		printKey  = fs.Bool("print-key", false, "print the key (directory name) of each archive without building")
		listSrc   = fs.Bool("list-sources", false, "list the embedded C sources the archive is built from")
		ccs       = fs.StringArray("cc", nil, "compiler command, repeatable (default: gcc and clang, those installed)")
		abis      = fs.StringArray("abi", nil, `ABI flags, repeatable; one value may hold several flags separated by spaces; "" is the native ABI (default: "")`)
		dest      = fs.String("dest", guardlib.SystemDir, "system directory --prebuild writes to")
		sameAs    = fs.String("same-as", "", "with --prebuild: link every file of DEST/KEY (prebuilt from the same compiler binary under another name) instead of building")
		werror    = fs.Bool("werror", false, "compile the runtime with -Werror")
		verbose   = fs.BoolP("verbose", "v", false, "print each compiler command")
		help      = fs.BoolP("help", "h", false, "show this help")
	)
	fs.Usage = func() {
		fmt.Fprint(env.Stdout, guardlibUsage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		cache, err := cachedir.Root()
		if err != nil {
			cache = "(none: " + err.Error() + ")"
		}
		fmt.Fprintf(env.Stdout, guardlibFooter, guardlib.SystemDir, filepath.Join(cache, "runtime"))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		env.Errorf("guardlib", "%v (see 'immunix guardlib --help')", err)
		return 2
	}
	if *help {
		fs.Usage()
		return 0
	}
	if fs.NArg() > 0 {
		env.Errorf("guardlib", "unexpected argument %q (see 'immunix guardlib --help')", fs.Arg(0))
		return 2
	}
	modes := 0
	for _, m := range []bool{*prebuild, *printArch, *printKey, *listSrc} {
		if m {
			modes++
		}
	}
	if modes > 1 {
		env.Errorf("guardlib", "--prebuild, --print-archive, --print-key and --list-sources exclude each other")
		return 2
	}
	if *sameAs != "" {
		if !*prebuild {
			env.Errorf("guardlib", "--same-as needs --prebuild")
			return 2
		}
		if *sameAs != filepath.Base(*sameAs) || strings.HasPrefix(*sameAs, ".") {
			env.Errorf("guardlib", "--same-as %q: not a key (a directory name in --dest)", *sameAs)
			return 2
		}
	}
	if *listSrc {
		files, err := guardlib.SourceFiles()
		if err != nil {
			env.Errorf("guardlib", "%v", err)
			return 1
		}
		for _, f := range files {
			fmt.Fprintln(env.Stdout, f)
		}
		return 0
	}

	compilers := *ccs
	if len(compilers) == 0 {
		for _, c := range []string{"gcc", "clang"} {
			if _, err := exec.LookPath(c); err == nil {
				compilers = append(compilers, c)
			}
		}
		if len(compilers) == 0 {
			env.Errorf("guardlib", "no compiler found: neither gcc nor clang is on PATH (use --cc)")
			return 1
		}
	}
	abiList := *abis
	if len(abiList) == 0 {
		abiList = []string{""}
	}
	opts := guardlib.BuildOptions{Werror: *werror}
	if *verbose {
		opts.Log = func(argv []string) { fmt.Fprintln(env.Stderr, strings.Join(argv, " ")) }
	}

	status := 0
	if *prebuild && *sameAs == "" {
		dir, err := guardlib.PrebuildFormatGuardHeaders(*dest)
		if err != nil {
			env.Errorf("guardlib", "formatguard headers: %v", err)
			status = 1
		} else {
			fmt.Fprintln(env.Stdout, dir)
		}
	}
	for _, cc := range compilers {
		words := strings.Fields(cc)
		if len(words) == 0 {
			env.Errorf("guardlib", "empty --cc value")
			return 2
		}
		for _, abi := range abiList {
			t := guardlib.Target{Compiler: words, ABIFlags: strings.Fields(abi)}
			label := strings.TrimSpace(cc + " " + abi)
			key, err := guardlib.Key(t)
			if err != nil {
				env.Errorf("guardlib", "%s: %v", label, err)
				status = 1
				continue
			}
			switch {
			case *printKey:
				fmt.Fprintln(env.Stdout, key)
			case *prebuild && *sameAs != "":
				p, err := guardlib.PrebuildSameAs(key, *dest, *sameAs)
				if err != nil {
					env.Errorf("guardlib", "%s: %v", label, err)
					status = 1
					continue
				}
				fmt.Fprintln(env.Stdout, p)
			case *prebuild:
				p, err := guardlib.Prebuild(t, key, *dest, opts)
				if err != nil {
					env.Errorf("guardlib", "%s: %v", label, err)
					status = 1
					continue
				}
				fmt.Fprintln(env.Stdout, p)
			default:
				var p string
				if opts.Werror || opts.Log != nil {
					// Build afresh so the flags take effect; the cache is
					// keyed without them.
					dir, err := os.MkdirTemp("", "immunix-guardlib-")
					if err == nil {
						err = guardlib.Build(t, dir, opts)
					}
					if err != nil {
						env.Errorf("guardlib", "%s: %v", label, err)
						status = 1
						continue
					}
					p = filepath.Join(dir, guardlib.ArchiveName)
				} else {
					p, err = guardlib.Archive(t)
					if err != nil {
						env.Errorf("guardlib", "%v", err)
						status = 1
						continue
					}
				}
				fmt.Fprintln(env.Stdout, p)
			}
		}
	}
	return status
}
