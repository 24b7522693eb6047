package enforce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/subdomain"
)

// SupervisorCommand is the hidden immunix subcommand the supervisor runs
// as: immunix run re-executes its own binary (/proc/self/exe) with it.
const SupervisorCommand = "__subdomain-supervisor"

// The supervisor's inherited descriptor: its end of a socket pair over
// which immunix run sends it one message once the descriptors exist:
// NUL-separated fields, the flags ('a': the audit sockets and lock
// follow, 'e': this run turned the audit on, 'n': the seccomp listener
// follows, 'v': immunix run -v), the kernel's count of lost audit records
// when the audit was opened, the state directory, the program's pid,
// path and profile name, the alert socket, then the write grants; and
// the descriptors: the confined program's pidfd, then the audit
// multicast socket, control socket and audit.lock (held shared), then the
// seccomp listener. The stand-in (supervise/immunix-supervise.c) reads
// the first three fields and the descriptors with MSG_PEEK, so the
// message is still there for the supervisor it execs.
const supSock = 3

// supervisorVersion is the version of the hand-over, the supervisor's
// one argument.
const supervisorVersion = "3"

// overflowsEnv is set by the stand-in, when it execs the supervisor, to
// the times the audit socket overflowed while it waited.
const overflowsEnv = "IMMUNIX_SUPERVISE_OVERFLOWS"

// The process arrangement. The confined program keeps immunix run's
// process: Landlock rules on /proc/self are its own /proc entries, its
// exit status and signals are its caller's to see, and nothing stands
// between them. The supervisor is a child forked, before the program is
// exec'd, from a thread outside the confinement: it is not in the
// program's Landlock domain, so with LANDLOCK_SCOPE_SIGNAL the program
// cannot signal it (kill(getppid()) or any pid: EPERM), and it runs in a
// session of its own, so a terminal's ^C does not reach it. It reads the
// audit records and the seccomp notifications until the program (its
// parent) has exited and every record it caused has been read, then
// releases the audit switch. Its standard error is the program's, so a
// caller reading the program's stderr to its end also waits for every
// alert.

// SupervisorStart is a supervisor (or its stand-in) being started: its
// exec runs on another thread while immunix run goes on.
type SupervisorStart struct {
	sock int // our end of the socket pair
	done chan error
}

// WillSupervise reports whether a run with these options is all but
// certain to need a supervisor before its profile is read: as root, with
// alerts, on a kernel that audits Landlock denials. immunix run then
// starts it (StartSupervisor) before reading the profile, so that its
// start overlaps with all of immunix run's own work.
func WillSupervise(noAudit bool) bool {
	return !noAudit && os.Geteuid() == 0 && KernelABI() >= auditABI
}

// StartSupervisor forks and execs the supervisor's stand-in stub (or,
// with stub "", the supervisor itself: immunix re-executed) from
// another thread (a new goroutine: the runtime runs it on a thread other
// than the one immunix run later confines and locks) and returns at
// once; its standard error is stderr (nil: this process's). Run hands it
// everything else just before the program's exec; a start Run finds it
// does not need ends when the socket closes at that exec (the stand-in
// and the supervisor exit quietly on an empty hand-over).
func StartSupervisor(stub string, stderr *os.File) (*SupervisorStart, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("supervisor: socketpair: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		null.Close()
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	argv := []string{"immunix", SupervisorCommand, supervisorVersion}
	exe := self
	if stub != "" {
		// The stand-in holds the descriptors and execs the supervisor at
		// the first thing to supervise (supervise/immunix-supervise.c).
		exe = stub
		argv = append([]string{StubName, stubVersion, wakeTypes(), self}, argv...)
	}
	// One P: the supervisor's goroutines mostly wait in the kernel, and
	// with more Ps the runtime's idle threads spin looking for work
	// while the program starts beside it.
	env := []string{"GOMAXPROCS=1"}
	if h := os.Getenv(testHookEnv); h != "" {
		env = append(env, testHookEnv+"="+h)
	}
	fd := null.Fd()
	files := []uintptr{fd, fd, orFile(stderr, os.Stderr).Fd(), uintptr(pair[1])}
	attr := &syscall.ProcAttr{Env: env, Files: files, Sys: &syscall.SysProcAttr{Setsid: true}}
	st := &SupervisorStart{sock: pair[0], done: make(chan error, 1)}
	go func() {
		_, err := syscall.ForkExec(exe, argv, attr)
		unix.Close(pair[1])
		null.Close()
		if err != nil {
			err = fmt.Errorf("start the supervisor %s: %w", exe, err)
		}
		st.done <- err
	}()
	return st, nil
}

// Close abandons a start Run did not need: the stand-in or supervisor
// reads an empty hand-over and exits.
func (st *SupervisorStart) Close() { unix.Close(st.sock) }

// StubName is the supervisor's stand-in, a small C program installed
// beside immunix-tools (supervise/immunix-supervise.c): it receives the
// hand-over and execs the supervisor only when there is something to
// supervise, so that a confined program's start does not share its CPU
// with a Go runtime's start.
const StubName = "immunix-supervise"

// stubVersion is the version of the stand-in's argument list; a stand-in
// of another version refuses to start, in one line.
const stubVersion = "2"

// TrustedStub returns the stand-in at path, its symbolic links
// resolved, or an error when another user could have replaced it: it
// runs with immunix run's credentials, outside the confinement. The file
// and every directory from its own up to / must be owned by root or by
// the caller and writable by no one else (a directory with the sticky
// bit, as /tmp, lets only a file's owner replace it).
func TrustedStub(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	for p := real; ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			return "", fmt.Errorf("%s is owned by uid %d, not by root or by this user: not trusted", p, st.Uid)
		}
		if st.Mode&0o022 != 0 && (p == real || st.Mode&unix.S_ISVTX == 0) {
			return "", fmt.Errorf("%s is writable by group or others: not trusted", p)
		}
		if p == "/" {
			return real, nil
		}
	}
}

// wakeTypes are the audit record types the stand-in wakes the supervisor
// for, as its first argument: those readAudit turns into alerts (the
// user records are the supervisor's own drain markers, sent after it
// woke).
func wakeTypes() string {
	return fmt.Sprintf("%d,%d,%d", auditLandlockAccess, auditLandlockDomain, auditSeccomp)
}

// maxHandover bounds the hand-over message: a SOCK_SEQPACKET message
// must fit the socket's send buffer (wmem_max, 208 KiB by default).
const maxHandover = 192 << 10

// handover waits for the supervisor's (or its stand-in's) exec and sends
// it the run's parameters and descriptors, then closes this process's
// copies.
func (st *SupervisorStart) handover(r *Runner, path string, grants []string, aud *Audit, notify int) error {
	defer unix.Close(st.sock)
	if err := <-st.done; err != nil {
		return err
	}
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("supervisor: pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	fds := []int{pidfd}
	flags := ""
	if aud != nil {
		flags += "a"
		fds = append(fds, int(aud.mc.Fd()), aud.ctl, aud.hold.lock)
		if aud.Enabled() {
			flags += "e"
		}
	}
	if notify >= 0 {
		flags += "n"
		fds = append(fds, notify)
	}
	if r.Notef != nil {
		flags += "v"
	}
	lost := uint32(0)
	if aud != nil {
		lost = aud.lostAtOpen
	}
	stateDir := r.StateDir
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	socket := ""
	if r.Alerts != nil {
		socket = r.Alerts.Socket
	}
	// The write grants, where the supervisor performs the metadata calls
	// the filter passes it.
	h := handedOver{flags: flags, lostAtOpen: lost, stateDir: stateDir, pid: os.Getpid(), path: path, program: r.Profile.Program, socket: socket, grants: grants}
	msg := h.encode()
	if len(msg) > maxHandover {
		return fmt.Errorf("supervisor: the profile's write rules are too many to hand over (%d bytes, at most %d)", len(msg), maxHandover)
	}
	if err := unix.Sendmsg(st.sock, msg, unix.UnixRights(fds...), nil, 0); err != nil {
		return fmt.Errorf("supervisor: send its descriptors: %w", err)
	}
	if aud != nil {
		aud.mc.Close()
		unix.Close(aud.ctl)
		unix.Close(aud.hold.lock) // the supervisor's copy keeps the shared lock
	}
	if notify >= 0 {
		unix.Close(notify)
	}
	return nil
}

// handedOver is what handover sends.
type handedOver struct {
	flags      string
	lostAtOpen uint32
	stateDir   string
	pid        int
	path       string
	program    string
	socket     string
	grants     []string
	fds        []int
}

// receiveStart reads what handover sends. ok is false when immunix run
// ended without sending it (it failed before the program started, or
// did not need a supervisor after all).
func receiveStart() (h handedOver, ok bool) {
	oob := make([]byte, unix.CmsgSpace(8*4))
	for {
		// The message's length first (MSG_TRUNC: a packet's whole size).
		n, _, _, _, err := unix.Recvmsg(supSock, make([]byte, 1), nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return h, false
		}
		buf := make([]byte, n)
		n, oobn, _, _, err := unix.Recvmsg(supSock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return h, false
		}
		unix.Close(supSock)
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return h, false
		}
		for i := range msgs {
			if rights, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				h.fds = append(h.fds, rights...)
			}
		}
		fds := h.fds
		if h, err = decodeHandover(buf[:n]); err != nil {
			fmt.Fprintf(os.Stderr, "immunix run: supervisor: %v\n", err)
			return h, false
		}
		h.fds = fds
		return h, true
	}
}

// encode is the hand-over message (see supSock); the descriptors go
// beside it.
func (h *handedOver) encode() []byte {
	fields := append([]string{h.flags, strconv.FormatUint(uint64(h.lostAtOpen), 10), h.stateDir, strconv.Itoa(h.pid), h.path, h.program, h.socket}, h.grants...)
	return []byte(strings.Join(fields, "\x00"))
}

// decodeHandover reads a hand-over message (without its descriptors).
func decodeHandover(b []byte) (handedOver, error) {
	var h handedOver
	f := strings.Split(string(b), "\x00")
	if len(f) < 7 {
		return h, fmt.Errorf("hand-over of %d fields, want at least 7", len(f))
	}
	lost, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return h, fmt.Errorf("hand-over: lost-record count: %w", err)
	}
	if h.pid, err = strconv.Atoi(f[3]); err != nil || h.pid <= 0 {
		return h, fmt.Errorf("hand-over: bad pid %q", f[3])
	}
	h.flags, h.lostAtOpen, h.stateDir, h.path, h.program, h.socket = f[0], uint32(lost), f[2], f[4], f[5], f[6]
	if len(f) > 7 {
		h.grants = f[7:]
	}
	return h, nil
}

// Supervise is the supervisor's main (args after SupervisorCommand); it
// returns its exit code.
func Supervise(args []string) int {
	if len(args) != 1 || args[0] != supervisorVersion {
		fmt.Fprintf(os.Stderr, "immunix: %s is started by immunix run only, of the same version\n", SupervisorCommand)
		return 2
	}
	h, ok := receiveStart()
	if !ok {
		return 0 // immunix run failed before the program started, or needed no supervisor
	}
	fds := h.fds
	next := func() int {
		if len(fds) == 0 {
			return -1
		}
		fd := fds[0]
		fds = fds[1:]
		return fd
	}
	pid := h.pid
	pidfd := next()
	r := &Runner{Profile: &subdomain.Profile{Program: h.program}, Alerts: &alert.Writer{Socket: h.socket, Stderr: os.Stderr}}
	if strings.Contains(h.flags, "v") {
		r.Notef = func(format string, a ...any) { fmt.Fprintf(os.Stderr, "immunix run: "+format+"\n", a...) }
	}
	var aud *Audit
	if strings.Contains(h.flags, "a") {
		mc, ctl, lock := next(), next(), next()
		unix.SetNonblock(mc, true)
		dir := h.stateDir
		aud = &Audit{mc: os.NewFile(uintptr(mc), "audit-multicast"), ctl: ctl, enabled: strings.Contains(h.flags, "e"), lostAtOpen: h.lostAtOpen,
			hold: &auditHold{lock: lock, path: filepath.Join(dir, "audit.lock"), state: filepath.Join(dir, "audit-enabled-by-immunix")}}
		if o, err := strconv.ParseUint(os.Getenv(overflowsEnv), 10, 32); err == nil {
			aud.overruns.Add(uint32(o))
		}
	}
	notify := -1
	if strings.Contains(h.flags, "n") {
		notify = next()
	}
	col := &collector{r: r, exe: h.path, pid: pid, self: pid, ours: map[string]bool{}}
	guard := &metaGuard{grants: h.grants, hook: os.Getenv(testHookEnv)}
	alerts := make(chan *alert.Alert, 64)
	// confinedGone is closed when no process uses the seccomp filter any
	// more: the started program and everything it left running (a
	// daemon's child) have exited.
	confinedGone := make(chan struct{})
	if notify >= 0 {
		go func() {
			serveNotify(notify, col, guard, alerts)
			close(confinedGone)
			// Closed after confinedGone: a test that sees the listener
			// gone from /proc/PID/fd knows confinedGone is closed.
			unix.Close(notify)
		}()
	} else {
		close(confinedGone)
	}
	exited := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		close(exited)
	}()
	var records chan Record
	if aud != nil {
		records = make(chan Record, 256)
		go readAudit(aud, records)
	}
	s := &superLoop{col: col, aud: aud, alerts: alerts, records: records}
	// Until the started program has exited and every record it caused
	// has been read: the caller reading the program's stderr to its end
	// has every alert.
	s.until(exited)
	s.reportLost()
	guard.hold("drained", "-") // a test stops here (testHookEnv)
	// A program that left processes behind (a daemon's child): they are
	// still confined and still served, their alerts go to syslog only
	// (the program's stderr is closed, so its caller is not held).
	select {
	case <-confinedGone:
		// Every confined process has exited, some (a daemon's child)
		// maybe after the drain above: their last calls' alerts may be
		// queued (serveNotify queues an alert before it answers, and
		// sees the listener hang up only after), their last denials
		// still in the kernel's queue. Drain once more.
		if notify >= 0 {
			s.until(confinedGone)
			s.reportLost()
		}
	default:
		r.Alerts.Stderr = nil
		os.Stderr.Close()
		s.until(confinedGone)
		s.reportLost()
	}
	if aud != nil {
		disabled, err := aud.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "immunix run: %v\n", err)
		} else if disabled {
			r.note("turned the kernel's audit back off")
		}
	}
	return 0
}

// superLoop turns records and listen refusals into alerts.
type superLoop struct {
	col     *collector
	aud     *Audit
	alerts  chan *alert.Alert
	records chan Record
	// undrained: a drain ended at its deadline, before the marker came
	// back, so records still queued were not read.
	undrained bool
}

// until alerts until done is closed, then logs a marker through the
// audit queue and alerts until it comes back (at most 2 s): every
// record caused before done has then been read.
func (s *superLoop) until(done <-chan struct{}) {
	marker := fmt.Sprintf("immunix-run-drain %d %d", os.Getpid(), time.Now().UnixNano())
	var drainDeadline <-chan time.Time
	marked := false
loop:
	for {
		select {
		case a := <-s.alerts:
			s.col.send(a)
		case <-done:
			done = nil
			if s.aud == nil || s.records == nil {
				break loop
			}
			if err := s.aud.Mark(marker); err != nil {
				drainDeadline = time.After(200 * time.Millisecond)
			} else {
				marked = true
				drainDeadline = time.After(2 * time.Second)
			}
		case rec, ok := <-s.records:
			if !ok {
				s.records = nil
				if done == nil {
					break loop
				}
				continue
			}
			if (rec.Type == auditUser || rec.Type == auditUserMsg) && strings.Contains(rec.Text, marker) {
				break loop
			}
			s.col.add(rec)
		case <-drainDeadline:
			// The marker did not come back: queued records were left
			// unread, or the kernel dropped the marker itself.
			s.undrained = marked
			break loop
		}
	}
	for len(s.alerts) > 0 {
		s.col.send(<-s.alerts)
	}
}

// reportLost alerts once for the audit records lost since the last
// report (or the audit's opening): dropped by the kernel (its backlog
// limit exceeded, AUDIT_GET's lost count grew), lost to an overflow of
// the multicast socket, or denials of a domain whose creation record
// never came (the collector keeps at most pendingMax), or left unread
// when a drain ran out of time. A program that
// floods denials to bury the one that matters gets this alert instead
// of silence. The kernel's count is the machine's: records of other
// processes lost in the same time are counted too.
func (s *superLoop) reportLost() {
	if s.aud == nil {
		return
	}
	var kernel uint32
	limit := uint32(0)
	if st, err := s.aud.status(); err == nil {
		kernel = st.lost - s.aud.lostAtOpen // wraps like the kernel's counter
		s.aud.lostAtOpen = st.lost
		limit = st.backlogLimit
	}
	overruns := s.aud.overruns.Swap(0)
	unmatched := s.col.unmatched
	s.col.unmatched = 0
	undrained := s.undrained
	s.undrained = false
	if kernel == 0 && overruns == 0 && unmatched == 0 && !undrained {
		return
	}
	var why []string
	if kernel > 0 {
		why = append(why, fmt.Sprintf("%d dropped by the kernel (audit backlog limit %d exceeded)", kernel, limit))
	}
	if overruns > 0 {
		why = append(why, fmt.Sprintf("the supervisor's socket overflowed %d times", overruns))
	}
	if unmatched > 0 {
		why = append(why, fmt.Sprintf("%d denials of an unidentified Landlock domain", unmatched))
	}
	if undrained {
		why = append(why, "the records still queued when the program ended were not all read within the drain's time")
	}
	c := s.col
	c.send(&alert.Alert{Kind: alert.KindSubDomain, Exe: c.exe, PID: c.pid, UID: os.Getuid(),
		Fields: []alert.Field{{Key: "profile", Value: c.r.Profile.Program}, {Key: "op", Value: "lost"},
			{Key: "kernel", Value: strconv.FormatUint(uint64(kernel), 10)},
			{Key: "overflows", Value: strconv.FormatUint(uint64(overruns), 10)},
			{Key: "unmatched", Value: strconv.Itoa(unmatched)}, {Key: "undrained", Value: strconv.FormatBool(undrained)},
			{Key: "mode", Value: "enforce"}},
		Msg: "audit records lost while the program ran, some denials are not alerted: " + strings.Join(why, "; ")})
}

func readAudit(aud *Audit, records chan<- Record) {
	buf := make([]byte, auditBufSize)
	for {
		recs, err := aud.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ENOBUFS) {
				aud.overruns.Add(1) // reported by superLoop.reportLost
				continue
			}
			if errors.Is(err, syscall.EINTR) {
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
}

// struct seccomp_notif and struct seccomp_notif_resp.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// testHookEnv names, in immunix run's environment, the directory of the
// FIFOs through which a test stops the supervisor between its check of
// a metadata call and its action, or its action and its answer, or
// after its first drain (metaGuard.hold). It can only delay the supervisor, never widen what
// it allows. A file "interruptible" there loads the filter without
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, as on a kernel without it, so
// that a test can show the double call the flag prevents.
const testHookEnv = "IMMUNIX_TEST_SUPERVISOR_HOOK"

// heldCallsInterruptible: the test hook asks for the filter without
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (testHookEnv).
func heldCallsInterruptible() bool {
	h := os.Getenv(testHookEnv)
	if h == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(h, "interruptible"))
	return err == nil
}

// serveNotify answers the seccomp notifications: the metadata calls
// (meta.go) and listen() calls of the confined programs. It performs the listen itself, on its own copy of
// the program's socket (pidfd_getfd: the same socket, so nothing the
// program changes after the check can matter), once it has seen that the
// socket is bound to a port: Landlock checked that port at bind().
// listen() on an unbound socket would make the kernel pick an ephemeral
// port no rule allows, which Landlock never sees: refused and alerted.
// When the supervisor is gone the programs' listen() fails (ENOSYS).
func serveNotify(fd int, col *collector, guard *metaGuard, alerts chan<- *alert.Alert) {
	runtime.LockOSThread() // blocks in poll and ioctl
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: no confined process is left
		}
		var req seccompNotif
		if err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			if err == unix.EINTR || err == unix.ENOENT {
				continue
			}
			return
		}
		var errno unix.Errno
		var a *alert.Alert
		if mc, ok := metaByNr()[req.nr]; ok && req.arch == nativeArch {
			errno, a = guard.handleMeta(fd, &req, mc, col)
		} else {
			errno, a = handleListen(fd, &req, col)
		}
		// The alert first: once answered, the program may exit, and
		// the supervisor's main loop then ends with what it has.
		if a != nil {
			alerts <- a
		}
		resp := seccompResp{id: req.id, error: -int32(errno)}
		ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
	}
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// handleListen decides one listen(fd, backlog): 0 or an errno, and the
// alert for a refusal.
func handleListen(nfd int, req *seccompNotif, col *collector) (unix.Errno, *alert.Alert) {
	pfd, err := unix.PidfdOpen(int(req.pid), unix.PIDFD_THREAD)
	if err != nil {
		return unix.ESRCH, nil
	}
	defer unix.Close(pfd)
	// The pid may have been reused between the notification and
	// pidfd_open: the notification is still pending only if not.
	id := req.id
	if err := ioctl(nfd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)); err != nil {
		return unix.ESRCH, nil
	}
	sfd, err := unix.PidfdGetfd(pfd, int(int32(req.args[0])), 0)
	if err != nil {
		if errno, ok := err.(unix.Errno); ok && errno == unix.EBADF {
			return unix.EBADF, nil
		}
		return unix.EPERM, nil
	}
	defer unix.Close(sfd)
	sa, err := unix.Getsockname(sfd)
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return errno, nil
		}
		return unix.EPERM, nil
	}
	port := -1
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	if port == 0 {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(int(req.pid)) + "/exe")
		return unix.EPERM, &alert.Alert{Kind: alert.KindSubDomain, Exe: exe, PID: int(req.pid), UID: programUID(int(req.pid)),
			Fields: []alert.Field{{Key: "profile", Value: col.r.Profile.Program}, {Key: "op", Value: "listen"},
				{Key: "port", Value: "0"}, {Key: "mode", Value: "enforce"}},
			Msg: "listen on a socket bound to no port refused (the kernel would pick a port no bind rule allows)"}
	}
	if err := unix.Listen(sfd, int(int32(req.args[1]))); err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return errno, nil
		}
		return unix.EPERM, nil
	}
	return 0, nil
}

// programUID is the (real) uid of the calling thread, for an alert: -1
// when it cannot be read.
func programUID(tid int) int {
	if c, err := readCreds("/proc/" + strconv.Itoa(tid) + "/status"); err == nil {
		return int(c.uid[0])
	}
	return -1
}
