package ccwrap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
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

// exitError is an error that carries immunix-cc's exit code for it. Every
// failure site returns one by wrapping a sentinel that is one (ErrUsage,
// ErrNotFound, ErrRecursion, ErrResponseFile, ErrStrict, ErrSign, errExec),
// so ExitCode reads the code instead of guessing it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// codedError returns a sentinel error with text msg and exit code code.
func codedError(code int, msg string) error {
	return &exitError{code: code, err: errors.New(msg)}
}

// ErrStrict wraps what IMMUNIX_STRICT=1 refuses (exit 106).
var ErrStrict = codedError(ExitStrict, "IMMUNIX_STRICT=1 refuses")

// errExec wraps a failed exec of the compiler (exit 105).
var errExec = codedError(ExitExec, "exec")

// ExitCode returns the exit code an error of this package carries (the
// first exitError in its chain: the sentinel its failure site wrapped), and
// ExitInternal for an error of immunix-cc's own work, which carries none.
// ExitRuntime (104) is carried by no error: a missing guard runtime fails
// open, or is refused with ExitStrict.
func ExitCode(err error) int {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
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

	// The providers below are every other side effect of run; a nil one
	// is the real one (OSEnv sets them all).

	// Getwd and Getpid name the process in the IMMUNIX_LOG record.
	Getwd  func() (string, error)
	Getpid func() int
	// OpenLog opens the IMMUNIX_LOG file to append one line.
	OpenLog func(path string) (io.WriteCloser, error)
	// Probe identifies the compiler cmd for the ABI flags abi and returns
	// its capabilities (CompilerKey and CachedCaps, in the immunix cache,
	// whose root cachedir finds from IMMUNIX_CACHE_DIR); note says why they
	// were not cached. A failed probe may still return the key.
	Probe func(cmd, abi []string) (key string, caps Caps, note string, err error)
	// The assets: LinkArgs and FormatGuardArgs are guardlib's (the guard
	// runtime, the FormatGuard headers); StampHeader, LinkNote and
	// NoUBSanDir are immunix-cc's own files in the cache.
	LinkArgs        func(guardlib.Target) ([]string, error)
	FormatGuardArgs func() ([]string, error)
	StampHeader     func() (string, error)
	LinkNote        func(key string, cmd, abi []string, s stamp.Stamp) (string, error)
	NoUBSanDir      func() (string, error)
	// Spawn runs the compiler as a child and waits for it (spawnOS).
	Spawn func(c Child) (status int, stdout, stderr []byte, err error)
}

// Child is one run of the compiler as a child of immunix-cc.
type Child struct {
	Path string
	Argv []string
	Env  []string
	// Stdin is the child's standard input; nil: immunix-cc's own.
	Stdin []byte
	// CaptureStdout: the child's stdout is returned (its result goes
	// there, as with -E); otherwise it is immunix-cc's own stdout.
	CaptureStdout bool
}

// withDefaults returns a copy of e whose nil providers are the real ones.
func (e *Env) withDefaults() *Env {
	c := *e
	if c.ReadConfig == nil {
		c.ReadConfig = ReadConfigFile
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Getwd == nil {
		c.Getwd = os.Getwd
	}
	if c.Getpid == nil {
		c.Getpid = os.Getpid
	}
	if c.OpenLog == nil {
		c.OpenLog = openLog
	}
	if c.Probe == nil {
		c.Probe = probeCompiler
	}
	if c.LinkArgs == nil {
		c.LinkArgs = guardlib.LinkArgs
	}
	if c.FormatGuardArgs == nil {
		c.FormatGuardArgs = guardlib.FormatGuardArgs
	}
	if c.StampHeader == nil {
		c.StampHeader = StampHeader
	}
	if c.LinkNote == nil {
		c.LinkNote = LinkNoteObject
	}
	if c.NoUBSanDir == nil {
		c.NoUBSanDir = NoUBSanDir
	}
	if c.Spawn == nil {
		c.Spawn = c.spawnOS
	}
	return &c
}

// OSEnv returns the Env of the running process.
func OSEnv() *Env {
	self, _ := os.Executable()
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	e := &Env{
		Args: os.Args, Environ: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ErrTTY: tty, Self: self, ReadFile: os.ReadFile, Exec: syscall.Exec, Setenv: os.Setenv, Now: time.Now, MarkerFD: true,
	}
	return e.withDefaults()
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
	e = e.withDefaults()
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
	pol, err := LoadPolicy(cfg, e.ReadConfig, e.getenv)
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
	j.key, j.caps, j.capsNote, err = e.Probe(j.comp.Cmd, j.inv.ABIFlags)
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
		dir, err := j.e.NoUBSanDir()
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
		h, err := j.e.StampHeader()
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
		obj, err := j.e.LinkNote(j.key, j.comp.Cmd, j.inv.ABIFlags, p.LinkRec.Stamp(stamp.Link))
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
