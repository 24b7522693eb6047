package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/check"
	"github.com/immunix/immunix/check/htmlreport"
	"github.com/immunix/immunix/check/sysfacts"
	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/cli"
)

func init() {
	registry.Register(cli.Command{
		Name:    "check",
		Summary: cli.Summary("check"),
		Run:     runCheck,
	})
}

const checkUsage = `Usage: immunix check [OPTIONS] PATH...
       immunix check --system [--format text|json] [--output FILE]

Check ELF files, directories (recursively; symbolic links inside them are
not followed), .deb and .rpm packages (read in place, never unpacked) against
a hardening policy. PATH "-" reads a list of paths, one a line, from
standard input.

Exit status: 0 every file passes the policy, 1 the policy refused a file,
2 usage error or an input could not be read (the scan still goes on).

Policy levels (each includes the one before):
  basic    noexecstack wx pie relro=partial-or-full
  strong   + canary fortify relro=full now      (the default)
  immunix  + formatguard stamp                  (built by immunix-cc, nothing off)
CET, rpath, stripped, static and signature are reported but only checked
on --require. signature (CryptoMark, docs/cryptomark.md) passes for a file
signed by a key in --keys DIR and unchanged since: --require signed makes
check a signing gate.

--format html writes one self-contained page (no script, no network):
coverage per protection as a chart, per package, per binary, the functions
lacking a canary, those lacking a bounds check in files built with
BoundsGuard, FormatGuard call sites, and with --baseline OLD.json (an
earlier --format json report) what changed, new failures first.

--system checks no file: it reports the running kernel's settings that
immunix's protections work beside, read from /proc/sys as the kernel reports
them, with what each value means: fs.protected_symlinks,
fs.protected_hardlinks, fs.protected_regular and fs.protected_fifos (the
ground they share with RaceGuard, docs/raceguard.md),
kernel.randomize_va_space and kernel.yama.ptrace_scope. Exit status 0 when
every setting was read (or this kernel has none), 2 when one could not be.

Properties: %s

Options:
%s`

func runCheck(env *cli.Env, args []string) int {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	level := fs.String("policy", "strong", "policy `LEVEL`: basic, strong or immunix")
	require := fs.StringSlice("require", nil, "also require `PROP`erties to pass (comma-separated, repeatable)")
	allow := fs.StringSlice("allow", nil, "do not check `PROP`erties (comma-separated, repeatable)")
	strict := fs.Bool("strict", false, "fail a checked property whose status is unknown (e.g. canary of a stripped static program)")
	format := fs.StringP("format", "f", "text", "report `FORMAT`: text, json, sarif, junit or html")
	baseline := fs.String("baseline", "", "html format: compare with the earlier JSON report `OLD.json`")
	output := fs.StringP("output", "o", "", "write the report to `FILE` instead of standard output")
	quiet := fs.BoolP("quiet", "q", false, "text format: list only files that fail or cannot be read")
	noCode := fs.Bool("no-code", false, "skip the per-function disassembly (canary becomes unknown)")
	jobs := fs.IntP("jobs", "j", 0, "check `N` files in parallel (default: one per CPU)")
	runtimes := fs.StringSlice("runtime-archive", nil, "static `LIB`rary (libc.a, libgcc.a...) whose functions in a static program are the toolchain's, not the program's (repeatable; default: this system's libc.a, libgcc.a, libgcc_eh.a, libstdc++.a)")
	maxMem := fs.String("max-memory", "1G", "bound the `BYTES` (suffix K, M or G: KiB, MiB, GiB) the scan holds for file contents at once, across all workers; package members larger than half of it are reported, not read")
	budget := fs.Duration("file-budget", 5*time.Minute, "stop the code analysis of one file after `DURATION` of wall-clock time (its canary, fortify and formatguard become unknown); 0: no bound")
	color := fs.String("color", "auto", "colour the text table: auto (on a terminal), always or never")
	progress := fs.String("progress", "auto", "progress bar on standard error: auto (on a terminal, many files), always or never")
	keysDir := fs.String("keys", cryptomark.DefaultKeysDir, "trusted CryptoMark public keys, one file each, in `DIR` (the signature property)")
	system := fs.Bool("system", false, "check no file: report the kernel's protected_* sysctls and the other settings immunix works beside (text or json)")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		env.Errorf("check", "%v (see 'immunix check --help')", err)
		return 2
	}
	if *help {
		fmt.Fprintf(env.Stdout, checkUsage, strings.Join(check.Properties, " "), fs.FlagUsages())
		return 0
	}
	if *system {
		return runCheckSystem(env, fs, *format, *output)
	}
	if fs.NArg() == 0 {
		env.Errorf("check", "no PATH given (see 'immunix check --help')")
		return 2
	}
	pol, err := check.NewPolicy(check.Level(*level))
	if err != nil {
		env.Errorf("check", "--policy: %v", err)
		return 2
	}
	for _, p := range *require {
		if pol, err = pol.WithRequire(strings.TrimSpace(p)); err != nil {
			env.Errorf("check", "--require: %v", err)
			return 2
		}
	}
	for _, p := range *allow {
		if pol, err = pol.WithAllow(strings.TrimSpace(p)); err != nil {
			env.Errorf("check", "--allow: %v", err)
			return 2
		}
	}
	pol = pol.WithStrict(*strict)
	write, ok := map[string]func(io.Writer, *check.Report) error{
		"json": check.WriteJSON, "sarif": check.WriteSARIF, "junit": check.WriteJUnit, "text": nil,
	}[*format]
	if *format == "html" {
		var base *check.Report
		if *baseline != "" {
			f, err := os.Open(*baseline)
			if err != nil {
				env.Errorf("check", "--baseline: %v", err)
				return 2
			}
			base, err = htmlreport.ReadBaseline(f)
			f.Close()
			if err != nil {
				env.Errorf("check", "--baseline %s: %v", *baseline, err)
				return 2
			}
		}
		write, ok = func(w io.Writer, rep *check.Report) error { return htmlreport.Write(w, rep, base) }, true
	} else if *baseline != "" {
		env.Errorf("check", "--baseline compares in the html format only (--format html)")
		return 2
	}
	if !ok {
		env.Errorf("check", "--format: unknown format %q (want %s)", *format, strings.Join(append(check.Formats, "html"), ", "))
		return 2
	}
	for name, v := range map[string]string{"--color": *color, "--progress": *progress} {
		if v != "auto" && v != "always" && v != "never" {
			env.Errorf("check", "%s: %q is not auto, always or never", name, v)
			return 2
		}
	}
	if *jobs < 0 {
		env.Errorf("check", "--jobs: %d is negative", *jobs)
		return 2
	}
	memLimit, err := parseBytes(*maxMem)
	if err != nil {
		env.Errorf("check", "--max-memory: %v", err)
		return 2
	}
	if *budget < 0 {
		env.Errorf("check", "--file-budget: %s is negative", *budget)
		return 2
	}
	// Let the garbage collector keep the heap near the budget, so memory
	// held for one file is returned before the next one's is taken.
	debug.SetMemoryLimit(memLimit + 256<<20)

	out := env.Stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			env.Errorf("check", "--output: %v", err)
			return 2
		}
		defer f.Close()
		out = f
	}
	keys, err := cryptomark.LoadKeyring(*keysDir)
	if err != nil {
		env.Errorf("check", "--keys: %v", err)
		return 2
	}
	sc := &check.Scanner{Keys: keys, Policy: pol, Code: !*noCode, Workers: *jobs, RuntimeArchives: *runtimes, Stdin: env.Stdin, MaxMemory: memLimit, FileBudget: *budget}
	var bar *progressBar
	if *progress == "always" || (*progress == "auto" && isTerminal(env.Stderr)) {
		bar = &progressBar{w: env.Stderr, min: 20}
		if *progress == "always" {
			bar.min = 0
		}
		sc.Progress = bar.update
	}
	rep := sc.Scan(fs.Args())
	if bar != nil {
		bar.clear()
	}
	if write == nil {
		useColor := *color == "always" || (*color == "auto" && *output == "" && isTerminal(env.Stdout))
		err = check.WriteText(out, rep, check.TextOptions{Color: useColor, Quiet: *quiet})
	} else {
		err = write(out, rep)
	}
	if err != nil {
		env.Errorf("check", "write report: %v", err)
		return 2
	}
	if *format != "text" || *output != "" {
		// Machine formats go to a file or a pipe; say the outcome on stderr
		// too, one line per unreadable file, so a CI log shows it.
		for _, f := range rep.Files {
			if f.Error != "" {
				env.Errorf("check", "%s: %s", check.Quote(f.Path), check.Quote(f.Error))
			}
		}
	}
	return rep.ExitCode()
}

// parseBytes reads "512M", "1G", "65536" (K, M, G: powers of 1024).
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	t := strings.TrimSpace(s)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1<<10, t[:n-1]
		case 'm', 'M':
			mult, t = 1<<20, t[:n-1]
		case 'g', 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a positive size such as 512M or 2G", s)
	}
	return v * mult, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressBar draws "[#####.....]  120/400 files" on one terminal line.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	min   int // draw only when there are at least this many inputs
	last  int // last drawn width of the filled part, to draw only on change
	drawn bool
}

const barWidth = 40

func (p *progressBar) update(done, total int) {
	if total < p.min || total == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	filled := done * barWidth / total
	if p.drawn && filled == p.last && done != total {
		return
	}
	p.last, p.drawn = filled, true
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total)
}

func (p *progressBar) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", barWidth+24))
	}
}

// runCheckSystem is immunix check --system: the kernel's settings from
// /proc/sys, as text or JSON.
func runCheckSystem(env *cli.Env, fs *pflag.FlagSet, format, output string) int {
	if fs.NArg() > 0 {
		env.Errorf("check", "--system checks the kernel, not files: remove %s", check.Quote(fs.Arg(0)))
		return 2
	}
	var only []string
	fs.Visit(func(f *pflag.Flag) {
		if f.Name != "system" && f.Name != "format" && f.Name != "output" {
			only = append(only, "--"+f.Name)
		}
	})
	if len(only) > 0 {
		env.Errorf("check", "--system takes only --format and --output, not %s", strings.Join(only, ", "))
		return 2
	}
	write, ok := map[string]func(io.Writer, *sysfacts.Report) error{"text": sysfacts.WriteText, "json": sysfacts.WriteJSON}[format]
	if !ok {
		env.Errorf("check", "--format: --system writes text or json, not %q", format)
		return 2
	}
	out := env.Stdout
	if output != "" {
		f, err := os.Create(output)
		if err != nil {
			env.Errorf("check", "--output: %v", err)
			return 2
		}
		defer f.Close()
		out = f
	}
	rep := sysfacts.Read(sysfacts.DefaultRoot)
	if err := write(out, rep); err != nil {
		env.Errorf("check", "write report: %v", err)
		return 2
	}
	code := 0
	for _, f := range rep.Facts {
		if f.Status == sysfacts.StatusError {
			env.Errorf("check", "%s: %s", f.Name, f.Error)
			code = 2
		}
	}
	return code
}
