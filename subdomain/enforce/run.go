package enforce

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/subdomain"
)

// Runner confines a command with a profile.
type Runner struct {
	Profile *subdomain.Profile
	Plan    *Plan
	// Alerts receives a subdomain alert per denial seen.
	Alerts *alert.Writer
	// NoAudit skips the audit reader: denials are enforced but not
	// alerted (the supervisor still answers listen()).
	NoAudit bool
	// Notef prints a note ("immunix run: ..." on stderr); nil: silent
	// (immunix run sets it only with -v: the stderr is the program's).
	Notef  func(format string, args ...any)
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	Env    []string
	// SupervisorStub is the supervisor's stand-in (StubName); "" starts
	// the Go supervisor at once.
	SupervisorStub string
	// Supervisor is a supervisor the caller started before the profile
	// was read (WillSupervise, StartSupervisor); Run hands it over, or
	// closes it when the run needs none. nil: Run starts one if needed.
	Supervisor *SupervisorStart
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
// goroutine (runtime.LockOSThread) and is the one that then execs the
// program: the Landlock ruleset (best effort down to the kernel's ABI,
// denials of executed programs logged, signals and abstract unix
// sockets scoped to the domain from ABI 6), then the seccomp filter
// (blocked calls refused with EPERM and logged, argument checks). With
// listen passed to the supervisor it returns the seccomp listener fd,
// else -1. Other threads of this process stay unconfined: the program
// inherits the credentials and filter of the thread that execs it.
// Irreversible.
func (pl *Plan) Apply() (int, error) {
	cfg := landlock.Config{HandledAccessFS: landlock.AccessFSSet(pl.Handled)}
	if pl.HandleNet {
		cfg.HandledAccessNet = landlock.AccessNetSet(3) // bind_tcp, connect_tcp
	}
	if pl.Scoped != 0 {
		cfg.Scoped = landlock.ScopedSet(pl.Scoped)
	}
	// Log the denials of the programs executed in the domain, not those of
	// this thread before its execve.
	cfg = cfg.BestEffort().EnableLoggingForSubprocesses().DisableLoggingForOriginatingProcess()
	fd, flags, err := cfg.NewRulesetFD(pl.Rules()...)
	if err != nil {
		return -1, fmt.Errorf("landlock: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if fd >= 0 {
		err := ll.LandlockRestrictSelf(fd, flags)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("landlock_restrict_self: %w", err)
		}
	}
	return blockSyscalls(pl.Blocked, pl.filterOpts())
}

// Run confines argv: the program keeps this process (its pid, so the
// profile's /proc/@{pid} rules are its own entries, and its parent sees
// its exit status). When denials can be alerted (audit) or listen()
// needs checking (the profile binds TCP ports), a supervisor process is
// started first, outside the confinement, which reads the audit records
// and answers the seccomp notifications until the program has exited.
// Run returns only on error: the exit code to use and the error.
func (r *Runner) Run(argv []string) (int, error) {
	if len(argv) == 0 {
		return 2, errors.New("no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 127, fmt.Errorf("find %s: %w", argv[0], err)
	}
	// Alerts name the program by its absolute path, as the profile does,
	// whatever directory the command was given relative to.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	env := r.Env
	if env == nil {
		env = os.Environ()
	}
	// A supervisor is started only when something needs it: alerts, or
	// calls it decides (listen, metadata). Without one, those calls are
	// refused by the filter. It is started first (by the caller, before
	// the profile was read, when WillSupervise), so that its exec
	// overlaps with the rest of this one (audit, Landlock, seccomp); it
	// gets its parameters and descriptors when they exist.
	grants := r.Plan.WriteGrants()
	auditing := !r.NoAudit && r.Plan.Audit
	st := r.Supervisor
	r.Supervisor = nil
	start := func() (err error) {
		if st == nil {
			st, err = StartSupervisor(r.SupervisorStub, r.Stderr)
		}
		return err
	}
	needed := r.Plan.NeedsSupervisor(grants) || (auditing && os.Geteuid() == 0)
	if needed {
		if err := start(); err != nil {
			return 1, err
		}
	}
	var aud *Audit
	if auditing {
		aud, err = OpenAudit(r.StateDir)
		if err != nil {
			r.note("denials are enforced but not alerted: %v", err)
			aud = nil
		}
	}
	if aud != nil {
		needed = true
		if err := start(); err != nil {
			return 1, err
		}
	}
	if st != nil && !needed {
		st.Close()
		st = nil
	}
	r.Plan.unsupervised = st == nil
	if st == nil {
		r.note("no supervisor: no alerts, no TCP bind rule and no write rule; listen() and metadata calls are refused")
	}
	// The program is exec'd from this goroutine's thread, which the
	// confinement restricts; the supervisor was forked from another
	// (unconfined) thread.
	runtime.LockOSThread()
	notify, err := r.Plan.Apply()
	if err != nil {
		return 1, err
	}
	if st != nil {
		if err := st.handover(r, path, grants, aud, notify); err != nil {
			return 1, err
		}
	}
	if aud != nil && aud.Enabled() {
		r.note("turned on the kernel's audit (it was off) so Landlock logs denials; the last immunix run to end turns it off again")
	}
	for i, f := range []*os.File{r.Stdin, r.Stdout, r.Stderr} {
		if f != nil && f.Fd() != uintptr(i) {
			if err := unix.Dup3(int(f.Fd()), i, 0); err != nil {
				return 1, fmt.Errorf("dup3: %w", err)
			}
		}
	}
	return 126, execError("exec", path, syscall.Exec(path, argv, env))
}

func execError(op, path string, err error) error {
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s %s: %w (the profile does not let it be executed: its path or its interpreter lacks x)", op, path, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
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
	unmatched  int // denials dropped from a full pending list
	sent       int
	sendFailed bool
}

// pendingMax bounds the Landlock denials kept until their domain's
// creation record names the domain ours.
const pendingMax = 1024

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
			if len(c.pending) < pendingMax {
				c.pending = append(c.pending, rec)
			} else {
				c.unmatched++
			}
			return
		}
		c.landlock(rec)
	case auditSeccomp:
		if rec.Fields["code"] == seccompCodeNotify {
			return // passed to the supervisor, which alerts its refusals itself
		}
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

// seccompCodeNotify is how a seccomp record writes SECCOMP_RET_USER_NOTIF.
const seccompCodeNotify = "0x7fc00000"

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
	case strings.HasPrefix(blockers, "scope.signal"):
		op, target = "signal", f["opid"]
	case strings.HasPrefix(blockers, "scope.abstract_unix_socket"):
		op, target = "connect", f["path"]
	}
	fields := []alert.Field{{Key: "profile", Value: c.r.Profile.Program}, {Key: "op", Value: op}}
	if target != "" {
		key := "path"
		switch {
		case op == "signal":
			key = "target"
		case (op == "bind" || op == "connect") && !strings.HasPrefix(blockers, "scope."):
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
