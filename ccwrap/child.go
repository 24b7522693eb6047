package ccwrap

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/immunix/immunix/internal/childwait"
	"golang.org/x/sys/unix"
)

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
// attempt leaves no trace. Env.Spawn runs it (spawnOS).
func (j *job) child(argv []string, stdin []byte) (int, []byte, []byte, error) {
	return j.e.Spawn(Child{Path: j.comp.Exec(), Argv: argv, Env: j.environ(), Stdin: stdin, CaptureStdout: j.writesStdout()})
}

// spawnOS is Env.Spawn's real provider. The output goes to memory files,
// which the child writes directly: no pipes, no copying goroutines. A child
// killed by a signal makes immunix-cc die of the same signal.
func (e *Env) spawnOS(c Child) (int, []byte, []byte, error) {
	// Plain fork/exec and a wait parked on the child's pidfd
	// (internal/childwait): no pipes, no goroutines copying output; the
	// child writes straight into memory files.
	argv, stdin := c.Argv, c.Stdin
	files := make([]uintptr, 3)
	in := os.Stdin
	if f, ok := e.Stdin.(*os.File); ok {
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
	if c.CaptureStdout {
		if outf, err = memFile("stdout"); err != nil {
			return 0, nil, nil, err
		}
		defer outf.Close()
		files[1] = outf.Fd()
	} else if f, ok := e.Stdout.(*os.File); ok {
		files[1] = f.Fd()
	} else {
		files[1] = os.Stdout.Fd()
	}
	// No signal forwarding goroutine: a terminal's signals reach the
	// child's process group directly, and if immunix-cc itself is killed
	// (make's SIGTERM), the kernel sends the child SIGTERM (Pdeathsig).
	pidfd := -1
	pid, err := syscall.ForkExec(c.Path, argv, &syscall.ProcAttr{Env: c.Env, Files: files,
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
		e.Stdout.Write(out)
		e.Stderr.Write(errb)
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
