package learn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TraceSyscalls is the -e trace= set immunix learn asks strace for: every
// call that names a file, plus the fd-based ones the profile needs (mmap
// for executable mappings, fchdir, fchmod...), sockets, process creation
// (for the cwd each child inherits) and the dangerous calls.
const TraceSyscalls = "%file,fchdir,mmap,fchmod,fchown,ftruncate,fsetxattr,fremovexattr," +
	"bind,connect,clone,clone3,fork,vfork,ptrace,reboot,init_module,finit_module," +
	"delete_module,kexec_load,kexec_file_load,adjtimex,clock_adjtime,clock_settime,settimeofday," +
	"io_uring_setup,memfd_create,socket,kill,tkill,tgkill"

// StraceArgs returns strace's options before the command:
//
//	-f                    follow forks
//	--seccomp-bpf         stop only at traced calls (much cheaper)
//	-qq -e signal=none    no attach/exit/signal lines
//	--decode-fds=path,socket  fd arguments annotated: 3</etc/passwd>, 4<TCP:[...]>
//	-s 4096               whole paths (PATH_MAX) in strings
//	-e trace=TraceSyscalls
//	-o FILE
func StraceArgs(out string) []string {
	return []string{"-f", "--seccomp-bpf", "-qq", "-e", "signal=none",
		"--decode-fds=path,socket", "-s", "4096", "-e", "trace=" + TraceSyscalls, "-o", out}
}

// ErrNoStrace is returned when strace is not installed.
var ErrNoStrace = errors.New("strace is not installed (Debian package: strace; apt-get install strace)")

// Runner runs a command under strace and streams its trace.
type Runner struct {
	// Strace is the strace binary; "" looks it up on PATH.
	Strace string
	// Dir is the command's working directory; "" means the current one.
	Dir            string
	Env            []string // nil means the current environment
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs argv under strace, feeds every trace line to p and copies the
// trace, after a "# cwd=" header line, to keep (nil: not kept; immunix
// learn passes a tracefile.Writer, which compresses it). It returns the
// command's exit code.
func (r *Runner) Run(argv []string, p *Parser, keep io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("run under strace: no command")
	}
	strace := r.Strace
	if strace == "" {
		var err error
		strace, err = exec.LookPath("strace")
		if err != nil {
			return 0, ErrNoStrace
		}
	}
	dir := r.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return 0, fmt.Errorf("run under strace: %w", err)
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("run under strace: %w", err)
	}
	args := append(StraceArgs("/dev/fd/3"), "--")
	args = append(args, argv...)
	cmd := exec.Command(strace, args...)
	cmd.Dir = dir
	cmd.Env = r.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.Stdin, r.Stdout, r.Stderr
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, fmt.Errorf("start %s: %w", strace, err)
	}
	pw.Close()
	p.Cwd = dir
	var src io.Reader = &batchReader{f: pr}
	var kerr error
	if keep != nil {
		_, kerr = fmt.Fprintf(keep, "# cwd=%s\n", escapeHeader(dir))
		src = io.TeeReader(src, keep)
	}
	perr := p.Parse(bufio.NewReaderSize(src, 1<<20))
	pr.Close()
	werr := cmd.Wait()
	if kerr != nil && perr == nil {
		perr = fmt.Errorf("keep trace: %w", kerr)
	}
	code := 0
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return 0, fmt.Errorf("run %s: %w", strace, werr)
		}
		code = ee.ExitCode()
		if code < 0 {
			code = 128 + 9
		}
	}
	if perr != nil && !errors.Is(perr, ErrNotTrace) {
		return code, perr
	}
	return code, nil
}

// batchReader reads the trace pipe in batches: after a short read it
// waits a millisecond so strace's many small writes pile up in the pipe
// (made 1 MiB) instead of waking this process once per line. The
// traced program never waits on it unless the pipe fills.
type batchReader struct {
	f     *os.File
	sized bool
}

func (b *batchReader) Read(p []byte) (int, error) {
	if !b.sized {
		b.sized = true
		unix.FcntlInt(b.f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	}
	n, err := b.f.Read(p)
	if err == nil && n < len(p)/4 {
		time.Sleep(time.Millisecond)
	}
	return n, err
}

func escapeHeader(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '\\' {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
