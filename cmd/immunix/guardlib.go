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
		dir, err := prebuildHeaders(*dest)
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
				p, err := prebuildLink(key, *dest, *sameAs)
				if err != nil {
					env.Errorf("guardlib", "%s: %v", label, err)
					status = 1
					continue
				}
				fmt.Fprintln(env.Stdout, p)
			case *prebuild:
				p, err := prebuildOne(t, key, *dest, opts)
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

// prebuildOne builds the archive for t into dest/key atomically and returns
// the archive's path.
func prebuildOne(t guardlib.Target, key, dest string, opts guardlib.BuildOptions) (string, error) {
	dir, err := installDir(dest, key, func(stage, scratch string) error {
		if err := guardlib.Build(t, scratch, opts); err != nil {
			return err
		}
		// Keep only the archives and the export list: the sources and
		// objects were scratch.
		for _, name := range guardlib.OutputFiles {
			out := filepath.Join(stage, name)
			if err := os.Rename(filepath.Join(scratch, name), out); err != nil {
				return err
			}
			if err := os.Chmod(out, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, guardlib.ArchiveName), nil
}

// prebuildLink fills dest/key atomically with relative symbolic links to
// every file of dest/same (guardlib.OutputFiles), which must be complete: a
// compiler reached under several names (cc, gcc, gcc-12, the triplet's
// names) links the one runtime built for its binary, and the link line
// finds each file it names under every key. It returns the archive's path.
func prebuildLink(key, dest, same string) (string, error) {
	if key == same {
		return "", fmt.Errorf("prebuild: --same-as %s is this compiler's own key", same)
	}
	if err := guardlib.CheckPrebuilt(filepath.Join(dest, same)); err != nil {
		return "", fmt.Errorf("prebuild: --same-as: %w", err)
	}
	dir, err := installDir(dest, key, func(stage, _ string) error {
		for _, name := range guardlib.OutputFiles {
			if err := os.Symlink(filepath.Join("..", same, name), filepath.Join(stage, name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, guardlib.ArchiveName), nil
}

// prebuildHeaders writes the FormatGuard wrapper headers into
// dest/FormatGuardKey(), where immunix-cc prefers them to its cache.
func prebuildHeaders(dest string) (string, error) {
	key, err := guardlib.FormatGuardKey()
	if err != nil {
		return "", err
	}
	return installDir(dest, key, func(stage, _ string) error {
		return guardlib.WriteFormatGuardHeaders(stage)
	})
}

// installDir fills dest/key atomically: fill writes into a fresh stage
// directory (and may use scratch for work), which is then renamed into
// place, replacing an older copy. No reader ever sees a partial directory.
func installDir(dest, key string, fill func(stage, scratch string) error) (string, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	tmp, err := os.MkdirTemp(dest, "."+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	stage := filepath.Join(tmp, "out")
	scratch := filepath.Join(tmp, "scratch")
	for _, d := range []string{stage, scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("prebuild: %w", err)
		}
	}
	if err := fill(stage, scratch); err != nil {
		return "", fmt.Errorf("prebuild %s: %w", key, err)
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	final := filepath.Join(dest, key)
	old := final + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("prebuild: replace %s: %w", final, err)
		}
	}
	if err := os.Rename(stage, final); err != nil {
		return "", fmt.Errorf("prebuild: install %s: %w", final, err)
	}
	os.RemoveAll(old)
	return final, nil
}
