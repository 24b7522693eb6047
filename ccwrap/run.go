package ccwrap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/childwait"
	"github.com/immunix/immunix/internal/logline"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
	"golang.org/x/sys/unix"
)

// Exit codes of immunix-cc's own errors (docs/contracts.md).
const (
	ExitUsage     = 100
	ExitNotFound  = 101
	ExitRecursion = 102
	ExitRespFile  = 103
	ExitRuntime   = 104
	ExitExec      = 105
	ExitStrict    = 106
	ExitSign      = 107
	// ExitInternal: immunix-cc's own work failed (a temporary file, a
	// write), not the compiler's and none of the above.
	ExitInternal = 108
)

// ErrStrict wraps what IMMUNIX_STRICT=1 refuses (exit 106).
var ErrStrict = errors.New("IMMUNIX_STRICT=1 refuses")

// errExec wraps a failed exec of the compiler (exit 105).
var errExec = errors.New("exec")

// ExitCode maps an error from this package to its exit code.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrNotFound):
		return ExitNotFound
	case errors.Is(err, ErrRecursion):
		return ExitRecursion
	case errors.Is(err, ErrResponseFile):
		return ExitRespFile
	case errors.Is(err, ErrStrict):
		return ExitStrict
	case errors.Is(err, guardlib.ErrNotBuilt):
		return ExitRuntime
	case errors.Is(err, ErrSign):
		return ExitSign
	case errors.Is(err, errExec):
		return ExitExec
	}
	return ExitInternal
}

// Env holds the process's side effects. main fills it from the real
// process; tests replace fields.
type Env struct {
	Args     []string // argv, argv[0] included
	Environ  []string
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	ErrTTY   bool   // stderr is a terminal
	Self     string // immunix-cc's own executable (os.Executable)
	ReadFile func(string) ([]byte, error)
	// ReadConfig reads the configuration file (ReadConfigFile when nil).
	ReadConfig func(string) ([]byte, error)
	// Exec replaces the process (syscall.Exec); it returns only on error.
	Exec func(path string, argv, env []string) error
	// Setenv sets a variable of the process itself, which the helpers it
	// runs (probes, guardlib's runtime build) inherit.
	Setenv func(k, v string) error
	Now    func() time.Time
	// MarkerFD: read the recursion marker from inherited descriptors and
	// hand it on in one (the real process; unit tests leave it off).
	MarkerFD bool
	// LinkArgs and FormatGuardArgs are guardlib's; tests make them fail.
	LinkArgs        func(guardlib.Target) ([]string, error)
	FormatGuardArgs func() ([]string, error)
}

// OSEnv returns the Env of the running process.
func OSEnv() *Env {
	self, _ := os.Executable()
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	return &Env{
		Args: os.Args, Environ: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ErrTTY: tty, Self: self, ReadFile: os.ReadFile, Exec: syscall.Exec, Setenv: os.Setenv, Now: time.Now, MarkerFD: true,
		LinkArgs: guardlib.LinkArgs, FormatGuardArgs: guardlib.FormatGuardArgs,
	}
}

func (e *Env) getenv(k string) string {
	v, _ := e.lookupEnv(k)
	return v
}

func (e *Env) lookupEnv(k string) (string, bool) {
	for i := len(e.Environ) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(e.Environ[i], k+"="); ok {
			return rest, true
		}
	}
	return "", false
}

// Main runs immunix-cc and returns its exit code (when it does not exec).
// Its own errors are printed once, as "immunix-cc: ...".
func Main(e *Env) int {
	code, err := run(e)
	if err != nil {
		fmt.Fprintf(e.Stderr, "immunix-cc: %v\n", err)
		return ExitCode(err)
	}
	return code
}

// job is one invocation being handled.
type job struct {
	e        *Env
	pol      Policy
	comp     Compiler
	visited  []string
	inv      Invocation
	plan     Plan
	caps     Caps
	key      string
	assets   Assets
	user     []string
	explain  bool
	capsNote string
	marker   markerFD // the inherited marker file handed on, -1 if none
}

func run(e *Env) (int, error) {
	args := e.Args[1:]
	explain := false
	if len(args) > 0 {
		switch args[0] {
		case "--immunix-help":
			io.WriteString(e.Stdout, helpText)
			return 0, nil
		case "--immunix-version":
			fmt.Fprintf(e.Stdout, "immunix-cc %s\n", version.Version)
			return 0, nil
		case "--immunix-explain":
			explain, args = true, args[1:]
		}
	}
	cfg := e.getenv("IMMUNIX_CONFIG")
	if cfg == "" {
		cfg = DefaultConfigFile
	}
	readConfig := e.ReadConfig
	if readConfig == nil {
		readConfig = ReadConfigFile
	}
	pol, err := LoadPolicy(cfg, readConfig, e.getenv)
	if err != nil {
		return 0, err
	}
	j := &job{e: e, pol: pol, user: args, explain: explain, marker: -1}
	marker, reentry := e.lookupEnv(MarkerEnv)
	// The marker also comes as an inherited file descriptor, which survives
	// a wrapper that clears the environment (env -i): without it such a
	// wrapper, called back through a masquerade directory, loops forever.
	if e.MarkerFD {
		if v, ok := readMarkerFD(); ok && !reentry {
			marker, reentry = v, true
		}
	}
	if marker != "" {
		j.visited = strings.Split(marker, ":")
	}
	f := Finder{Lookup: OSLookup(e.getenv("PATH")), Visited: j.visited, Reentry: reentry}
	if id, _, err := osStat(e.Self); err == nil {
		f.Self = id
	}
	argv0 := e.Args[0]
	if j.comp, err = f.Find(argv0, pol); err != nil {
		return 0, err
	}
	if e.MarkerFD {
		j.marker = newMarkerFD(j.markerValue(j.comp.Cmd[0]))
	}
	if reentry && !explain {
		// Called back through a launcher or wrapper: the outer immunix-cc
		// has rewritten these arguments already.
		j.inv.Reason = ReasonReentry
		j.plan = Plan{Inv: j.inv}
		return j.execute(Rewrite(&j.plan, j.comp.Argv(nil), nil, args, Assets{}))
	}
	// The probes, the link note and guardlib run the compiler themselves:
	// if it calls back into immunix-cc, that must be a re-entry too.
	if e.Setenv != nil {
		if err := e.Setenv(MarkerEnv, j.markerValue(j.comp.Cmd[0])); err != nil {
			return 0, fmt.Errorf("set %s: %w", MarkerEnv, err)
		}
	}
	parseArgs := args
	if len(pol.Flags) > 0 {
		parseArgs = append(append([]string{}, pol.Flags...), args...)
	}
	if j.inv, err = Parse(parseArgs, e.ReadFile); err != nil {
		return 0, err
	}
	if j.inv.Reason != NoReason {
		j.plan = Plan{Inv: j.inv}
		return j.finish(Rewrite(&j.plan, j.comp.Argv(nil), nil, args, Assets{}))
	}
	if j.key, err = CompilerKey(j.comp.Cmd, j.inv.ABIFlags); err == nil {
		j.caps, j.capsNote, err = CachedCaps(j.key, j.comp.Cmd, j.inv.ABIFlags)
	}
	if err != nil {
		if pol.Strict {
			return 0, fmt.Errorf("%w: %w", ErrStrict, err)
		}
		j.capsNote = err.Error()
	}
	j.plan = Decide(j.inv, pol, j.caps)
	if err := j.gatherAssets(); err != nil {
		return 0, err
	}
	return j.finish(Rewrite(&j.plan, j.comp.Argv(nil), pol.Flags, args, j.assets))
}

// gatherAssets asks guardlib for the FormatGuard and runtime arguments and
// makes the stamp header and link note. Each failure fails open: the asset
// is left out, the record says why, and IMMUNIX_STRICT=1 refuses instead.
func (j *job) gatherAssets() error {
	p := &j.plan
	failOpen := func(rec *Record, x Protection, err error) error {
		if j.pol.Strict {
			return fmt.Errorf("%w: %s: %w", ErrStrict, x, err)
		}
		rec.Remove(x, err.Error())
		j.warn("%s left out (the stamp says failed=%s): %s", x, x, err)
		return nil
	}
	if p.FormatGuard {
		args, err := j.e.FormatGuardArgs()
		if err != nil {
			p.FormatGuard = false
			if err := failOpen(&p.CompileRec, FormatGuard, err); err != nil {
				return err
			}
		}
		j.assets.FormatGuardArgs = args
	}
	if p.Runtime {
		args, err := j.e.LinkArgs(guardlib.Target{Compiler: j.comp.Cmd, ID: j.key + "-" + j.caps.Kind + "-" + j.caps.Version, ABIFlags: j.inv.ABIFlags, Exe: j.inv.Link == LinkExe,
			Shared: j.inv.Link == LinkShared, Static: j.inv.Link == LinkStatic || j.inv.Link == LinkStaticPIE})
		if err != nil {
			p.Runtime = false
			if err := failOpen(&p.LinkRec, Runtime, err); err != nil {
				return err
			}
		}
		j.assets.RuntimeArgs = args
	}
	if p.NoUBSan && p.Runtime {
		dir, err := NoUBSanDir()
		if err != nil {
			if j.pol.Strict {
				return fmt.Errorf("%w: %s: %w", ErrStrict, Bounds, err)
			}
			p.LinkRec.note("bounds: %v (libubsan is linked)", err)
		} else {
			j.assets.RuntimeArgs = append(j.assets.RuntimeArgs, "-L"+dir)
		}
	}
	if p.StampC || p.StampAsm {
		h, err := StampHeader()
		if err != nil {
			if j.pol.Strict {
				return fmt.Errorf("%w: %w", ErrStrict, err)
			}
			p.Unstamped = err.Error()
			p.StampC, p.StampAsm = false, false
		}
		j.assets.StampHeader = h
	}
	if p.LinkNote && j.key != "" {
		obj, err := LinkNoteObject(j.key, j.comp.Cmd, j.inv.ABIFlags, p.LinkRec.Stamp(stamp.Link))
		if err != nil {
			if j.pol.Strict {
				return fmt.Errorf("%w: %w", ErrStrict, err)
			}
			p.LinkRec.note("stamp: %v", err)
			p.LinkNote = false
		}
		j.assets.LinkNote = obj
	}
	return nil
}

// warn writes one line "immunix-cc: warning: ..." on stderr: a protection
// the policy asked for was left out. Only the first line of the message is
// kept (a failed build's output goes to IMMUNIX_LOG and explain).
func (j *job) warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] + " ..."
	}
	fmt.Fprintf(j.e.Stderr, "immunix-cc: warning: %s\n", msg)
}

// unitName names the sources of the invocation for a warning.
func (j *job) unitName() string {
	var names []string
	for _, in := range j.inv.Inputs {
		if in.Lang != "" {
			names = append(names, in.Name)
		}
	}
	if len(names) == 0 {
		return "the unit"
	}
	return strings.Join(names, " ")
}

// finish prints (explain, debug), logs and runs the final command.
func (j *job) finish(argv []string) (int, error) {
	if j.explain {
		j.writeExplain(argv)
		return 0, nil
	}
	if j.pol.Debug {
		fmt.Fprintf(j.e.Stderr, "immunix-cc: %s\n", shellJoin(argv))
	}
	out := j.signOutput()
	if j.plan.FormatGuard && len(j.assets.FormatGuardArgs) > 0 {
		if out != "" { // IMMUNIX_SIGN_KEY
			code, err := j.runWithRetry(argv)
			return j.sign(out, code, err)
		}
		return j.runWithRetry(argv)
	}
	j.log("")
	if out != "" { // IMMUNIX_SIGN_KEY
		code, err := j.runChild(argv)
		return j.sign(out, code, err)
	}
	return j.execute(argv)
}

// markerValue is the marker handed on when prog runs next.
func (j *job) markerValue(prog string) string {
	return strings.Join(append(append([]string{}, j.visited...), prog), ":")
}

// environ is the environment of the compiler run; it also sets the marker
// file to the same value.
func (j *job) environ() []string {
	env := make([]string, 0, len(j.e.Environ)+1)
	for _, kv := range j.e.Environ {
		if !strings.HasPrefix(kv, MarkerEnv+"=") {
			env = append(env, kv)
		}
	}
	v := j.markerValue(j.comp.Exec())
	j.marker.set(v)
	return append(env, MarkerEnv+"="+v)
}

func (j *job) execute(argv []string) (int, error) {
	err := j.e.Exec(j.comp.Exec(), argv, j.environ())
	return 0, fmt.Errorf("%w %s: %w", errExec, j.comp.Exec(), err)
}

// runWithRetry runs the compile as a child with its output buffered; if it
// fails with the FormatGuard headers, it compiles again without them.
func (j *job) runWithRetry(argv []string) (int, error) {
	var stdin []byte
	for _, in := range j.inv.Inputs {
		if in.Name == "-" {
			b, err := io.ReadAll(j.e.Stdin)
			if err != nil {
				return 0, fmt.Errorf("read standard input: %w", err)
			}
			stdin = b
			break
		}
	}
	color := []string(nil)
	if j.e.ErrTTY && !j.inv.Color && (j.caps.Kind == "gcc" || j.caps.Kind == "clang") {
		color = []string{"-fdiagnostics-color=always"}
	}
	if src := j.helperSource(argv); src != "" {
		handled, code, extra, err := j.helperPass(src, color)
		if err != nil {
			return 0, err
		}
		if handled {
			j.log("")
			return code, nil
		}
		if extra != nil {
			for k, v := range extra {
				j.assets.Extra = withExtra(j.assets.Extra, k, v)
			}
			argv = Rewrite(&j.plan, j.comp.Argv(nil), j.pol.Flags, j.user, j.assets)
		}
	}
	first := append(append([]string{}, argv...), color...)
	code, out, errb, err := j.child(first, stdin)
	if err != nil {
		return 0, err
	}
	if code == 0 {
		j.e.Stdout.Write(out)
		j.e.Stderr.Write(errb)
		if j.assets.Extra["fgh"] == "failed" {
			if j.pol.Strict {
				return 0, fmt.Errorf("%w: the unit compiles with FormatGuard but not with its printf helper calls rewritten (fgh=failed)", ErrStrict)
			}
			j.warn("formatguard does not check the printf helpers of %s (the stamp says fgh=failed): the unit with its helper calls rewritten did not compile", j.unitName())
		}
		j.log("")
		return 0, nil
	}
	if len(j.comp.Launcher) == 0 && !formatGuardImplicated(errb, j.assets.FormatGuardArgs, append(append([]string{}, j.pol.Flags...), j.user...)) {
		// The diagnostics do not involve the FormatGuard headers: the unit
		// fails for its own reasons (a configure probe for a missing
		// function, a typo), and compiling it again would fail the same
		// way at twice the cost.
		j.e.Stdout.Write(out)
		j.e.Stderr.Write(errb)
		j.log("")
		if j.pol.Debug {
			fmt.Fprintf(j.e.Stderr, "immunix-cc: the compile failed without involving the FormatGuard headers; not compiled again\n")
		}
		return code, nil
	}
	fgArgs := j.assets.FormatGuardArgs
	if j.hasCUnit() {
		// Again with counts only (C): the argument classes are the part
		// of the headers a valid C call can break (a compound literal
		// with a top-level comma, which the preprocessor splits in two).
		// The count check stays; the stamp and the log say fg=counts.
		j.assets.FormatGuardArgs = append(append([]string{}, fgArgs...), FormatGuardNoTypes)
		j.assets.Extra = withExtra(j.assets.Extra, "fg", "counts")
		second := append(Rewrite(&j.plan, j.comp.Argv(nil), j.pol.Flags, j.user, j.assets), color...)
		code2, out2, errb2, err := j.child(second, stdin)
		if err != nil {
			return 0, err
		}
		if code2 == 0 {
			j.e.Stdout.Write(out2)
			j.e.Stderr.Write(errb2)
			j.log("counts")
			j.warn("formatguard checks only the argument counts in %s (the stamp says fg=counts): the unit failed to compile with the argument classes and compiled with %s", j.unitName(), FormatGuardNoTypes)
			if j.pol.Debug {
				fmt.Fprintf(j.e.Stderr, "immunix-cc: FormatGuard's argument classes made the unit fail; compiled again with counts only: %s\n", shellJoin(second))
			}
			return 0, nil
		}
	}
	// Again without FormatGuard, with fg=retried in the stamp.
	j.assets.FormatGuardArgs = nil
	j.assets.Extra = withExtra(j.assets.Extra, "fg", "retried")
	j.plan.CompileRec.Remove(FormatGuard, "the unit failed to compile with the FormatGuard headers")
	second := append(Rewrite(&j.plan, j.comp.Argv(nil), j.pol.Flags, j.user, j.assets), color...)
	code2, out2, errb2, err := j.child(second, stdin)
	if err != nil {
		return 0, err
	}
	if code2 == 0 && j.pol.Strict {
		j.e.Stdout.Write(out)
		j.e.Stderr.Write(errb)
		j.assets.FormatGuardArgs = fgArgs
		return 0, fmt.Errorf("%w: the unit compiles without FormatGuard (%s) but not with it", ErrStrict, strings.Join(fgArgs, " "))
	}
	j.e.Stdout.Write(out2)
	j.e.Stderr.Write(errb2)
	if code2 == 0 {
		j.log("retried")
		j.warn("formatguard left out of %s (the stamp says failed=formatguard fg=retried): the unit failed to compile with the FormatGuard headers and compiled without them", j.unitName())
		if j.pol.Debug {
			fmt.Fprintf(j.e.Stderr, "immunix-cc: FormatGuard made the unit fail; compiled again without it: %s\n", shellJoin(second))
		}
	} else {
		j.log("")
	}
	return code2, nil
}

// FormatGuardNoTypes turns the FormatGuard headers' argument classes off
// (counts only): the retry's middle step.
const FormatGuardNoTypes = "-DIMMUNIX_FG_NO_TYPES"

// hasCUnit reports whether a compiled input is C or Objective-C source or
// header, the languages whose argument classes IMMUNIX_FG_NO_TYPES turns off
// (C++ classifies with templates, which a compound literal does not break).
func (j *job) hasCUnit() bool {
	for _, in := range j.inv.Inputs {
		switch in.Lang {
		case "c", "c-header", "objective-c", "objective-c-header":
			return true
		}
	}
	return false
}

// child runs argv with stdin, collecting its stderr (and its stdout when
// the command writes its result there, as -E does) so a failed first
// attempt leaves no trace. The output goes to memory files, which the child
// writes directly: no pipes, no copying goroutines. A child killed by a
// signal makes immunix-cc die of the same signal.
func (j *job) child(argv []string, stdin []byte) (int, []byte, []byte, error) {
	// Plain fork/exec and a wait parked on the child's pidfd
	// (internal/childwait): no pipes, no goroutines copying output; the
	// child writes straight into memory files.
	files := make([]uintptr, 3)
	in := os.Stdin
	if f, ok := j.e.Stdin.(*os.File); ok {
		in = f
	}
	if stdin != nil {
		f, err := memFile("stdin")
		if err != nil {
			return 0, nil, nil, err
		}
		defer f.Close()
		if _, err := f.Write(stdin); err != nil {
			return 0, nil, nil, fmt.Errorf("buffer standard input: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, nil, nil, fmt.Errorf("buffer standard input: %w", err)
		}
		in = f
	}
	files[0] = in.Fd()
	errf, err := memFile("stderr")
	if err != nil {
		return 0, nil, nil, err
	}
	defer errf.Close()
	files[2] = errf.Fd()
	var outf *os.File
	if j.writesStdout() {
		if outf, err = memFile("stdout"); err != nil {
			return 0, nil, nil, err
		}
		defer outf.Close()
		files[1] = outf.Fd()
	} else if f, ok := j.e.Stdout.(*os.File); ok {
		files[1] = f.Fd()
	} else {
		files[1] = os.Stdout.Fd()
	}
	// No signal forwarding goroutine: a terminal's signals reach the
	// child's process group directly, and if immunix-cc itself is killed
	// (make's SIGTERM), the kernel sends the child SIGTERM (Pdeathsig).
	pidfd := -1
	pid, err := syscall.ForkExec(j.comp.Exec(), argv, &syscall.ProcAttr{Env: j.environ(), Files: files,
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, PidFD: &pidfd}})
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w %s: %w", errExec, argv[0], err)
	}
	ws, err := childwait.Wait(pid, pidfd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("wait for %s: %w", argv[0], err)
	}
	errb, err := readAll(errf)
	if err != nil {
		return 0, nil, nil, err
	}
	var out []byte
	if outf != nil {
		if out, err = readAll(outf); err != nil {
			return 0, nil, nil, err
		}
	}
	if ws.Signaled() {
		j.e.Stdout.Write(out)
		j.e.Stderr.Write(errb)
		signal.Reset(ws.Signal())
		syscall.Kill(os.Getpid(), ws.Signal())
		return 128 + int(ws.Signal()), nil, nil, nil
	}
	return ws.ExitStatus(), out, errb, nil
}

// writesStdout reports whether the compiler's result goes to stdout.
func (j *job) writesStdout() bool {
	switch j.inv.Mode {
	case ModePreprocess, ModeDeps:
		return j.inv.Output == "" || j.inv.Output == "-"
	}
	return j.inv.Output == "-"
}

// memFile returns an anonymous in-memory file (memfd), or an unlinked
// temporary file where memfd is not available.
func memFile(name string) (*os.File, error) {
	if fd, err := unix.MemfdCreate("immunix-cc-"+name, unix.MFD_CLOEXEC); err == nil {
		return os.NewFile(uintptr(fd), "memfd:immunix-cc-"+name), nil
	}
	f, err := os.CreateTemp("", "immunix-cc-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("buffer the compiler's %s: %w", name, err)
	}
	os.Remove(f.Name())
	return f, nil
}

func readAll(f *os.File) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read back the compiler's output: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read back the compiler's output: %w", err)
	}
	return b, nil
}

// log appends one line to IMMUNIX_LOG with a single O_APPEND write, so lines
// from parallel compiles never interleave. A log that cannot be written is
// reported on stderr once and does not stop the build.
func (j *job) log(fg string) {
	if j.pol.Log == "" {
		return
	}
	line := j.logLine(fg)
	f, err := os.OpenFile(j.pol.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.Write([]byte(line))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(j.e.Stderr, "immunix-cc: warning: IMMUNIX_LOG: %v\n", err)
	}
}

func (j *job) logLine(fg string) string {
	var b strings.Builder
	p := &j.plan
	wd, _ := os.Getwd()
	now := time.Now
	if j.e.Now != nil {
		now = j.e.Now
	}
	fmt.Fprintf(&b, "time=%s pid=%d v=%s mode=%s", now().UTC().Format(time.RFC3339), os.Getpid(), version.Version, j.inv.Mode)
	if j.inv.Mode == ModeLink {
		fmt.Fprintf(&b, " link=%s", j.inv.Link)
	}
	fmt.Fprintf(&b, " cc=%s", logline.Value(j.comp.Cmd[0]))
	out := j.inv.Output
	if out == "" {
		out = "-"
	}
	fmt.Fprintf(&b, " dir=%s out=%s", logline.Value(wd), logline.Value(out))
	if j.inv.Reason != NoReason {
		fmt.Fprintf(&b, " pass=%s", j.inv.Reason)
		if j.inv.Detail != "" {
			fmt.Fprintf(&b, " detail=%s", logline.Value(j.inv.Detail))
		}
	}
	if p.Compile {
		writeRecord(&b, "compile", &p.CompileRec)
	}
	if p.Link {
		writeRecord(&b, "link", &p.LinkRec)
	}
	if fg != "" {
		fmt.Fprintf(&b, " fg=%s", fg)
	}
	if h := j.assets.Extra["fgh"]; h != "" {
		fmt.Fprintf(&b, " fgh=%s", h)
	}
	if p.Unstamped != "" {
		fmt.Fprintf(&b, " unstamped=%s", logline.Value(p.Unstamped))
	}
	var notes []string
	notes = append(notes, p.CompileRec.Notes...)
	notes = append(notes, p.LinkRec.Notes...)
	if j.capsNote != "" {
		notes = append(notes, "probe: "+j.capsNote)
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, " notes=%s", logline.Value(strings.Join(notes, "; ")))
	}
	b.WriteByte('\n')
	return b.String()
}

func writeRecord(b *strings.Builder, step string, r *Record) {
	fmt.Fprintf(b, " %s-on=%s %s-off=%s %s-user-off=%s", step, joinP(r.On), step, joinP(r.Off), step, userOffList(r))
	if step == "compile" {
		fmt.Fprintf(b, " fortify=%d", r.Fortify)
	}
}

func joinP(ps []Protection) string {
	ps = sortProtections(ps)
	if len(ps) == 0 {
		return "-"
	}
	return strings.Join(protectionStrings(ps), ",")
}

func userOffList(r *Record) string {
	ps := sortProtections(r.UserOff)
	if len(ps) == 0 {
		return "-"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p) + "(" + r.Flags[p] + ")"
	}
	return logline.Value(strings.Join(out, ","))
}

// shellJoin quotes argv so it can be pasted into a POSIX shell.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=+,:@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

func (j *job) writeExplain(argv []string) {
	w := j.e.Stdout
	fmt.Fprintf(w, "compiler:  %s (%s)\n", strings.Join(j.comp.Cmd, " "), j.comp.Via)
	if len(j.comp.Launcher) > 0 {
		fmt.Fprintf(w, "launcher:  %s\n", strings.Join(j.comp.Launcher, " "))
	}
	if j.caps.Kind != "" {
		fmt.Fprintf(w, "caps:      %s %s x86=%t stack-protector-strong=%t stack-clash=%t cf-protection=%t fortify3=%t default-pie=%t\n",
			j.caps.Kind, j.caps.Version, j.caps.X86, j.caps.Canary, j.caps.StackClash, j.caps.CET, j.caps.Fortify3, j.caps.DefaultPIE)
	}
	fmt.Fprintf(w, "mode:      %s", j.inv.Mode)
	if j.inv.Mode == ModeLink {
		fmt.Fprintf(w, " (%s)", j.inv.Link)
	}
	fmt.Fprintln(w)
	if j.inv.Reason != NoReason {
		fmt.Fprintf(w, "pass:      %s %s (the command runs unchanged)\n", j.inv.Reason, j.inv.Detail)
	}
	for _, in := range j.inv.Inputs {
		l := string(in.Lang)
		if l == "" {
			l = "linker input"
		}
		fmt.Fprintf(w, "input:     %s (%s)\n", in.Name, l)
	}
	p := &j.plan
	show := func(step string, r *Record) {
		fmt.Fprintf(w, "%-10s on=%s off=%s user-off=%s", step+":", joinP(r.On), joinP(r.Off), userOffList(r))
		if step == "compile" {
			fmt.Fprintf(w, " fortify=%d", r.Fortify)
		}
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note:    %s\n", n)
		}
	}
	if p.Compile {
		show("compile", &p.CompileRec)
	}
	if p.Link {
		show("link", &p.LinkRec)
	}
	if p.Unstamped != "" {
		fmt.Fprintf(w, "stamp:     none: %s\n", p.Unstamped)
	}
	if j.capsNote != "" {
		fmt.Fprintf(w, "probe:     %s\n", j.capsNote)
	}
	fmt.Fprintf(w, "command:   %s\n", shellJoin(argv))
}
