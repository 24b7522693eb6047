package enforce

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/childwait"
	"github.com/immunix/immunix/subdomain"
)

// Runner confines a command with a profile.
type Runner struct {
	Profile *subdomain.Profile
	Plan    *Plan
	// Alerts receives a subdomain alert per denial seen.
	Alerts *alert.Writer
	// NoAudit skips the audit reader: the command is exec'd directly and
	// denials are enforced but not alerted.
	NoAudit bool
	// Notef prints a note ("immunix run: ..." on stderr); nil: silent.
	Notef  func(format string, args ...any)
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	Env    []string
	// StateDir holds the lock and state file shared by concurrent runs
	// over the kernel's audit switch; "" means DefaultStateDir.
	StateDir string
}

func (r *Runner) note(format string, args ...any) {
	if r.Notef != nil {
		r.Notef(format, args...)
	}
}

// Apply restricts the calling thread, which must be locked to its
// goroutine (runtime.LockOSThread) and is the one that then starts or
// execs the program: the Landlock ruleset (best effort down to the
// kernel's ABI, denials of executed programs logged), then the seccomp
// filter refusing the blocked system calls with EPERM (logged to audit).
// Other threads of this process stay unconfined: the program inherits
// the credentials and filter of the thread that forks or execs it, and
// the supervisor's own runtime threads are not the program. Irreversible.
func (pl *Plan) Apply() error {
	cfg := landlock.Config{HandledAccessFS: landlock.AccessFSSet(pl.Handled)}
	if pl.HandleNet {
		cfg.HandledAccessNet = landlock.AccessNetSet(3) // bind_tcp, connect_tcp
	}
	// Log the denials of the programs executed in the domain, not those of
	// this thread before its execve.
	cfg = cfg.BestEffort().EnableLoggingForSubprocesses().DisableLoggingForOriginatingProcess()
	fd, flags, err := cfg.NewRulesetFD(pl.Rules()...)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if fd >= 0 {
		err := ll.LandlockRestrictSelf(fd, flags)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("landlock_restrict_self: %w", err)
		}
	}
	if len(pl.Blocked) == 0 {
		return nil
	}
	if err := blockSyscalls(pl.Blocked); err != nil {
		return err
	}
	return nil
}

// Run confines argv. With the audit reader available it restricts
// itself, starts argv as its child (which inherits the domain and the
// filter), turns the kernel's denial records for this domain into
// alerts, and returns the child's exit code. Without it, it restricts
// itself and execs argv (and only returns on error).
func (r *Runner) Run(argv []string) (int, error) {
	if len(argv) == 0 {
		return 2, errors.New("no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, fmt.Errorf("find %s: %w", argv[0], err)
	}
	env := r.Env
	if env == nil {
		env = os.Environ()
	}
	var aud *Audit
	if !r.NoAudit && r.Plan.Audit {
		aud, err = OpenAudit(r.StateDir)
		if err != nil {
			r.note("denials are enforced but not alerted: %v", err)
			aud = nil
		} else if aud.Enabled() {
			r.note("turned on the kernel's audit (it was off) so Landlock logs denials; the last immunix run to end turns it off again")
		}
	}
	if aud == nil {
		runtime.LockOSThread()
		if err := r.Plan.Apply(); err != nil {
			return 1, err
		}
		return 126, execError("exec", path, syscall.Exec(path, argv, env))
	}
	code, err := r.supervise(aud, path, argv, env)
	if _, cerr := aud.Close(); cerr != nil {
		r.note("%v", cerr)
	}
	return code, err
}

func execError(op, path string, err error) error {
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s %s: %w (the profile does not let it be executed: its path or its interpreter lacks x)", op, path, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// supervise starts the confined child and turns the audit records of its
// denials into alerts until it has exited and every record it caused has
// been read.
func (r *Runner) supervise(aud *Audit, path string, argv, env []string) (int, error) {
	// Restrict one locked thread and fork the program from it with
	// syscall.ForkExec (os/exec would first fork a throw-away child to
	// probe for pidfd support: 0.3 ms). The goroutine then ends still
	// locked, so the runtime destroys that thread and the supervisor goes
	// on unconfined (the runtime never clones new threads from a locked
	// one).
	type started struct {
		pid, pidfd int
		err        error // from the fork or exec
		applyErr   error // from the confinement
	}
	start := make(chan started)
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{
		orFile(r.Stdin, os.Stdin).Fd(), orFile(r.Stdout, os.Stdout).Fd(), orFile(r.Stderr, os.Stderr).Fd()}}
	go func() {
		runtime.LockOSThread()
		if err := r.Plan.Apply(); err != nil {
			start <- started{applyErr: err}
			return
		}
		pidfd := -1
		attr.Sys = &syscall.SysProcAttr{PidFD: &pidfd}
		pid, err := syscall.ForkExec(path, argv, attr)
		start <- started{pid: pid, pidfd: pidfd, err: err}
	}()
	st := <-start
	if st.applyErr != nil {
		return 1, st.applyErr
	}
	if st.err != nil {
		return 126, execError("start", path, st.err)
	}
	// Read the records only now: those the program causes wait in the
	// socket, which joined the multicast group before the fork, and
	// nothing the reader allocates delays the program's start.
	records := make(chan Record, 256)
	go func() {
		buf := make([]byte, auditBufSize)
		for {
			recs, err := aud.Read(buf)
			if err != nil {
				if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ENOBUFS) {
					continue
				}
				close(records)
				return
			}
			for _, rec := range recs {
				switch rec.Type {
				case auditLandlockAccess, auditLandlockDomain, auditSeccomp, auditUser, auditUserMsg:
					records <- rec
				}
			}
		}
	}()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	type waited struct {
		ws  syscall.WaitStatus
		err error
	}
	done := make(chan waited, 1)
	go func() {
		ws, err := childwait.Wait(st.pid, st.pidfd)
		done <- waited{ws, err}
	}()
	col := &collector{r: r, exe: path, pid: st.pid, self: os.Getpid(), ours: map[string]bool{}}
	marker := fmt.Sprintf("immunix-run-drain %d %d", os.Getpid(), time.Now().UnixNano())
	var w waited
	exited := false
	var drainDeadline <-chan time.Time
	for {
		select {
		case s := <-sigs:
			syscall.Kill(st.pid, s.(syscall.Signal))
		case w = <-done:
			if w.err != nil {
				return 1, fmt.Errorf("wait for %s: %w", path, w.err)
			}
			exited = true
			if err := aud.Mark(marker); err != nil {
				drainDeadline = time.After(200 * time.Millisecond)
			} else {
				drainDeadline = time.After(2 * time.Second)
			}
		case rec, ok := <-records:
			if !ok {
				records = nil
				if exited {
					return exitCode(w.ws), nil
				}
				continue
			}
			if (rec.Type == auditUser || rec.Type == auditUserMsg) && strings.Contains(rec.Text, marker) {
				return exitCode(w.ws), nil
			}
			col.add(rec)
		case <-drainDeadline:
			return exitCode(w.ws), nil
		}
	}
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// exitCode is the shell's code for a wait status: the exit status, or
// 128 + the signal that killed the program.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// collector turns audit records into alerts. A Landlock access record
// names only the domain; the domain's allocation record (logged with the
// first denial) names the process that created it, which is this one.
type collector struct {
	r          *Runner
	exe        string
	pid        int
	self       int
	ours       map[string]bool
	pending    []Record
	sent       int
	sendFailed bool
}

func (c *collector) add(rec Record) {
	switch rec.Type {
	case auditLandlockDomain:
		if rec.Fields["status"] == "allocated" && rec.Fields["pid"] == strconv.Itoa(c.self) {
			c.ours[rec.Fields["domain"]] = true
			pend := c.pending
			c.pending = nil
			for _, p := range pend {
				c.add(p)
			}
		}
	case auditLandlockAccess:
		d := rec.Fields["domain"]
		if !c.ours[d] {
			if len(c.pending) < 1024 {
				c.pending = append(c.pending, rec)
			}
			return
		}
		c.landlock(rec)
	case auditSeccomp:
		pid, _ := strconv.Atoi(rec.Fields["pid"])
		if !c.inTree(pid) {
			return
		}
		uid, _ := strconv.Atoi(rec.Fields["uid"])
		name := syscallName(rec.Fields["arch"], rec.Fields["syscall"])
		c.send(&alert.Alert{Kind: alert.KindSubDomain, Exe: rec.Fields["exe"], PID: pid, UID: uid,
			Fields: []alert.Field{{Key: "profile", Value: c.r.Profile.Program}, {Key: "op", Value: "syscall"},
				{Key: "syscall", Value: name}, {Key: "mode", Value: "enforce"}},
			Msg: "system call " + name + " refused (not granted by the profile)"})
	}
}

// inTree reports whether pid is the confined child or one of its
// descendants (read from /proc while they live; exited ones are assumed
// to be ours when the record came while the child ran).
func (c *collector) inTree(pid int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		if pid == c.pid {
			return true
		}
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		s := string(data)
		j := strings.LastIndexByte(s, ')')
		if j < 0 {
			return false
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 {
			return false
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return false
}

func (c *collector) landlock(rec Record) {
	f := rec.Fields
	blockers := f["blockers"]
	op, target := "access", f["path"]
	switch {
	case strings.HasPrefix(blockers, "fs.execute"):
		op = "exec"
	case strings.HasPrefix(blockers, "fs.read"):
		op = "read"
	case strings.HasPrefix(blockers, "fs.write"), strings.HasPrefix(blockers, "fs.truncate"):
		op = "write"
	case strings.HasPrefix(blockers, "fs.make"), strings.HasPrefix(blockers, "fs.remove"), strings.HasPrefix(blockers, "fs.refer"):
		op = "create"
	case strings.HasPrefix(blockers, "net.bind"):
		op, target = "bind", f["src"]
	case strings.HasPrefix(blockers, "net.connect"):
		op, target = "connect", f["dest"]
	}
	fields := []alert.Field{{Key: "profile", Value: c.r.Profile.Program}, {Key: "op", Value: op}}
	if target != "" {
		key := "path"
		if op == "bind" || op == "connect" {
			key = "port"
		}
		fields = append(fields, alert.Field{Key: key, Value: target})
	}
	fields = append(fields, alert.Field{Key: "blockers", Value: blockers}, alert.Field{Key: "mode", Value: "enforce"})
	c.send(&alert.Alert{Kind: alert.KindSubDomain, Exe: c.exe, PID: c.pid, UID: os.Getuid(), Fields: fields,
		Msg: "denied by the profile (Landlock " + blockers + ")"})
}

func (c *collector) send(a *alert.Alert) {
	c.sent++
	if c.r.Alerts != nil {
		if err := c.r.Alerts.Send(a); err != nil && !c.sendFailed {
			c.sendFailed = true
			c.r.note("%v", err)
		}
	}
}
