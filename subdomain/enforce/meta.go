package enforce

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
)

// The metadata calls (chmod, chown, utimensat, setxattr and their
// relatives), which Landlock does not mediate, are passed to the
// supervisor by the seccomp filter (SECCOMP_RET_USER_NOTIF) unless the
// profile grants their family outright ("syscall chmod"). The
// supervisor never answers "continue": the kernel would then look the
// path up again, and a second thread of the program could have swapped
// a symlink between the check and the call. It performs the call
// itself instead:
//
//  1. it reads the arguments from the calling thread's memory
//     (process_vm_readv) and its credentials (/proc/TID/status), and
//     checks that the notification is still pending (the thread id was
//     not reused); a thread in another user or mount namespace is
//     refused;
//  2. it takes on the thread's credentials for the rest (what the
//     kernel's checks read: effective and fs user and group IDs,
//     groups, effective capabilities), on its own thread, and then
//     takes its own back (creds.go, asCaller), unless they are its own. The kernel's
//     permission checks of the lookup and the change it makes are then
//     the ones the program's call would have had, and an error the
//     kernel returns goes back to the program as it is, not alerted (a
//     program that dropped root gets EPERM for a root file, as it does
//     unconfined: the supervisor is no confused deputy);
//  3. it resolves the path once, to an O_PATH descriptor: relative to
//     the program's cwd (/proc/TID/cwd), or to the directory descriptor
//     the program passed (pidfd_getfd), or from the root, which must be
//     its own (these with its own credentials); with openat2 and
//     RESOLVE_NO_MAGICLINKS (a /proc/self/fd/N or /proc/self/cwd name
//     is refused) and O_NOFOLLOW where the call does not follow a final
//     symlink (lchown, AT_SYMLINK_NOFOLLOW). fd calls (fchmod, fchown,
//     fsetxattr) take its own copy of the program's descriptor
//     (pidfd_getfd);
//  4. it checks the object that descriptor holds, by the path the kernel
//     reports for it (/proc/thread-self/fd/N), against the write grants
//     of the plan (the Landlock rules with write rights: the profile's w
//     and c rules): the object or a directory above it must be one. It
//     also refuses a set-uid or set-gid bit on a regular file and the
//     security.capability attribute (a privileged copy);
//  5. it performs the change through that descriptor (fchownat
//     AT_EMPTY_PATH, utimensat AT_EMPTY_PATH, chmod and setxattr of
//     /proc/thread-self/fd/N) and returns the call's result to the
//     program.
//
// Nothing the program does after step 3 can change which object is
// changed. The profile's refusals are alerted (op=chmod ... path=...).

// metaCall describes one notified metadata call: where its arguments are.
type metaCall struct {
	name   string
	op     metaOp
	dirfd  int  // argument index of a directory fd, -1: AT_FDCWD
	path   int  // argument index of the path, -1: none (fd call)
	fd     int  // argument index of the fd of an fd call, -1: none
	flags  int  // argument index of AT_* flags, -1: none
	follow bool // a final symlink is followed (unless flags say otherwise)
	// at: setxattrat, removexattrat (Linux 6.13): the attribute's name
	// is argument 3, setxattrat's value, size and flags are a struct
	// xattr_args (argument 4, its size argument 5), a NULL path with
	// AT_EMPTY_PATH names the dirfd itself.
	at bool
}

type metaOp uint8

const (
	opChmod metaOp = iota + 1
	opChown
	opUtimens  // struct timespec[2]
	opUtimes   // struct timeval[2]
	opUtime    // struct utimbuf
	opSetxattr // name, value, size, flags
	opRemovexattr
)

// metaCalls are keyed by the system call's name (archTable.calls).
var metaCalls = map[string]metaCall{
	"chmod":         {op: opChmod, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"fchmod":        {op: opChmod, dirfd: -1, path: -1, fd: 0, flags: -1},
	"fchmodat":      {op: opChmod, dirfd: 0, path: 1, fd: -1, flags: -1, follow: true},
	"fchmodat2":     {op: opChmod, dirfd: 0, path: 1, fd: -1, flags: 3, follow: true},
	"chown":         {op: opChown, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"lchown":        {op: opChown, dirfd: -1, path: 0, fd: -1, flags: -1},
	"fchown":        {op: opChown, dirfd: -1, path: -1, fd: 0, flags: -1},
	"fchownat":      {op: opChown, dirfd: 0, path: 1, fd: -1, flags: 4, follow: true},
	"utime":         {op: opUtime, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"utimes":        {op: opUtimes, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"futimesat":     {op: opUtimes, dirfd: 0, path: 1, fd: -1, flags: -1, follow: true},
	"utimensat":     {op: opUtimens, dirfd: 0, path: 1, fd: -1, flags: 3, follow: true},
	"setxattr":      {op: opSetxattr, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"lsetxattr":     {op: opSetxattr, dirfd: -1, path: 0, fd: -1, flags: -1},
	"fsetxattr":     {op: opSetxattr, dirfd: -1, path: -1, fd: 0, flags: -1},
	"removexattr":   {op: opRemovexattr, dirfd: -1, path: 0, fd: -1, flags: -1, follow: true},
	"lremovexattr":  {op: opRemovexattr, dirfd: -1, path: 0, fd: -1, flags: -1},
	"fremovexattr":  {op: opRemovexattr, dirfd: -1, path: -1, fd: 0, flags: -1},
	"setxattrat":    {op: opSetxattr, dirfd: 0, path: 1, fd: -1, flags: 2, follow: true, at: true},
	"removexattrat": {op: opRemovexattr, dirfd: 0, path: 1, fd: -1, flags: 2, follow: true, at: true},
}

// metaByNr maps the native ABI's call numbers to metaCalls (the filter
// notifies only native calls of these).
var metaByNr = sync.OnceValue(func() map[int32]metaCall {
	native, _, err := hostTables()
	m := map[int32]metaCall{}
	if err != nil {
		return m
	}
	nativeArch = native.audit
	for _, c := range native.calls {
		name := c.call
		if name == "" {
			name = c.name
		}
		if mc, ok := metaCalls[name]; ok {
			mc.name = name
			m[int32(c.nr)] = mc
		}
	}
	return m
})

var nativeArch uint32

// metaGuard holds what the supervisor decides metadata calls with.
type metaGuard struct {
	grants []string // the plan's write grants, resolved by immunix run (Plan.WriteGrants): trees end in "/"
	// hook, for tests only: after the check, write "checked PATH\n" to
	// hook/checked and wait for a byte from hook/go (FIFOs the test
	// made); from $IMMUNIX_TEST_SUPERVISOR_HOOK of immunix run.
	hook string
}

func (g *metaGuard) allowed(path string) bool {
	for _, gr := range g.grants {
		if gr == "/" {
			return true
		}
		if dir, ok := strings.CutSuffix(gr, "/"); ok {
			if path == dir || strings.HasPrefix(path, gr) {
				return true
			}
		} else if path == gr {
			return true
		}
	}
	return false
}

// metaReq is one notified call being handled.
type metaReq struct {
	nfd  int
	req  *seccompNotif
	call metaCall
	pfd  int // pidfd of the calling thread
	// xflags: a setxattr call's XATTR_CREATE / XATTR_REPLACE.
	xflags int
}

func (m *metaReq) arg(i int) uint64 { return m.req.args[i] }

// valid reports whether the notification is still pending: the thread
// is still in the call, so the pid and memory read were its.
func (m *metaReq) valid() bool {
	id := m.req.id
	return ioctl(m.nfd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// readMem reads n bytes at addr of the calling thread.
func (m *metaReq) readMem(addr uint64, n int) ([]byte, unix.Errno) {
	if addr == 0 {
		return nil, unix.EFAULT
	}
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(n)
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
	got, err := unix.ProcessVMReadv(int(m.req.pid), local, remote, 0)
	if err != nil || got != n {
		return nil, unix.EFAULT
	}
	return buf, 0
}

// readString reads a NUL-terminated string of at most max bytes,
// page by page (process_vm_readv stops at an unmapped page).
func (m *metaReq) readString(addr uint64, max int) (string, unix.Errno) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	var out []byte
	for len(out) < max {
		n := 4096 - int((addr+uint64(len(out)))%4096)
		n = min(n, max-len(out))
		b, e := m.readMem(addr+uint64(len(out)), n)
		if e != 0 {
			return "", e
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(append(out, b[:i]...)), 0
		}
		out = append(out, b...)
	}
	return "", unix.ENAMETOOLONG
}

// sameNamespaces reports whether the calling thread is in the
// supervisor's user and mount namespaces: "" when it is, else the one it
// is not in. The same capabilities count only in the same user
// namespace, and names mean the same only in the same mount namespace;
// the supervisor does not enter another.
func sameNamespaces(tid int) string {
	for _, ns := range []string{"user", "mnt"} {
		var a, b unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(tid)+"/ns/"+ns, &a) != nil || unix.Stat("/proc/thread-self/ns/"+ns, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
			return ns
		}
	}
	return ""
}

// ownCreds are the supervisor's credentials (every thread's but runAs').
var ownCreds = sync.OnceValues(func() (*creds, error) { return readCreds("/proc/self/status") })

const (
	atFdcwd      = -100
	xattrNameMax = 255   // XATTR_NAME_MAX
	xattrSizeMax = 65536 // XATTR_SIZE_MAX
)

// handleMeta performs one metadata call for the program: its errno (0:
// done) and the alert for a refusal.
func (g *metaGuard) handleMeta(nfd int, req *seccompNotif, call metaCall, col *collector) (unix.Errno, *alert.Alert) {
	pfd, err := unix.PidfdOpen(int(req.pid), unix.PIDFD_THREAD)
	if err != nil {
		return unix.ESRCH, nil
	}
	defer unix.Close(pfd)
	m := &metaReq{nfd: nfd, req: req, call: call, pfd: pfd}
	if !m.valid() {
		return unix.ESRCH, nil
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(int(req.pid)) + "/status")
	if err != nil {
		return unix.ESRCH, nil // gone
	}
	uid := -1 // the program's (real) uid, for the alerts
	refuse := func(path, why string) (unix.Errno, *alert.Alert) {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(int(req.pid)) + "/exe")
		f := []alert.Field{{Key: "profile", Value: col.r.Profile.Program}, {Key: "op", Value: call.name}}
		if path != "" {
			f = append(f, alert.Field{Key: "path", Value: path})
		}
		f = append(f, alert.Field{Key: "mode", Value: "enforce"})
		return unix.EPERM, &alert.Alert{Kind: alert.KindSubDomain, Exe: exe, PID: int(req.pid), UID: uid, Fields: f,
			Msg: call.name + " refused: " + why}
	}
	theirs, err := parseCreds(status)
	if err != nil {
		return refuse("", "the program's credentials cannot be read: "+err.Error())
	}
	uid = int(theirs.uid[0])
	if ns := sameNamespaces(int(req.pid)); ns != "" {
		return refuse("", "the program is in another "+ns+" namespace than its supervisor, which does not change metadata there")
	}
	ours, err := ownCreds()
	if err != nil {
		return refuse("", "the supervisor cannot read its own credentials: "+err.Error())
	}
	// The arguments, read before the object is resolved.
	var path string
	flags := 0
	if call.flags >= 0 {
		flags = int(int32(m.arg(call.flags)))
	}
	if call.at && flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL, nil // as path_setxattrat and path_removexattrat
	}
	var a metaArgs
	if call.path >= 0 {
		var e unix.Errno
		switch {
		case call.op == opUtimens && m.arg(call.path) == 0:
			path = "" // utimensat(fd, NULL, ...): the fd itself
		case call.at && m.arg(call.path) == 0 && flags&unix.AT_EMPTY_PATH != 0:
			path = "" // setxattrat(fd, NULL, AT_EMPTY_PATH, ...): the fd itself
		default:
			if path, e = m.readString(m.arg(call.path), unix.PathMax); e != 0 {
				return e, nil
			}
		}
	}
	switch call.op {
	case opUtimens, opUtimes, opUtime:
		var e unix.Errno
		if a.times, e = m.readTimes(); e != 0 {
			return e, nil
		}
	case opSetxattr, opRemovexattr:
		var e unix.Errno
		nameArg, valueAddr, size := 1, m.arg(2), m.arg(3)
		m.xflags = int(int32(m.arg(4)))
		if call.at {
			nameArg = 3
			if call.op == opSetxattr {
				if valueAddr, size, m.xflags, e = m.readXattrArgs(); e != 0 {
					return e, nil
				}
			}
		}
		if a.xname, e = m.readString(m.arg(nameArg), xattrNameMax+1); e != 0 {
			if e == unix.ENAMETOOLONG {
				e = unix.ERANGE
			}
			return e, nil
		}
		if call.op == opSetxattr {
			if size > xattrSizeMax {
				return unix.E2BIG, nil
			}
			if size > 0 {
				if a.xvalue, e = m.readMem(valueAddr, int(size)); e != 0 {
					return e, nil
				}
			}
		}
	}
	if !m.valid() {
		return unix.ESRCH, nil
	}
	// Where the object is looked up from (or the object itself).
	base, final, e := m.start(path, flags)
	if e != 0 {
		return e, nil
	}
	defer unix.Close(base)
	// The lookup, the check and the change, with the program's
	// credentials: on this thread (serveNotify's, locked to it), which
	// takes them on for the call and then its own back, unless they are
	// its own; never the main thread (runAs: a thread for the call).
	var res metaResult
	act := func() { res = g.act(m, base, final, path, flags, &a) }
	switch {
	case theirs.same(ours):
		act()
	case unix.Gettid() != unix.Getpid():
		err = asCaller(theirs, ours, act)
	default:
		err = runAs(theirs, ours, act)
	}
	if err != nil {
		return refuse("", "the supervisor could not take on the program's credentials ("+theirs.String()+"): "+err.Error())
	}
	if res.why != "" {
		return refuse(res.where, res.why)
	}
	return res.errno, nil
}

// metaArgs are a call's arguments read from the program's memory.
type metaArgs struct {
	times  []unix.Timespec
	xname  string
	xvalue []byte
}

// metaResult is what act did: the errno for the program, or why the
// profile refuses the call (alerted) and the object's name.
type metaResult struct {
	errno      unix.Errno
	why, where string
}

// act looks the object up (unless final: base is it), checks it
// against the profile and makes the change, with the credentials of the
// thread it runs on (the program's): the kernel's errors are the ones
// the program's own call would have had.
func (g *metaGuard) act(m *metaReq, base int, final bool, path string, flags int, a *metaArgs) metaResult {
	obj := base
	if !final {
		var e unix.Errno
		if obj, e = m.lookup(base, path, flags); e != 0 {
			return metaResult{errno: e}
		}
		defer unix.Close(obj)
	}
	where, err := os.Readlink("/proc/thread-self/fd/" + strconv.Itoa(obj))
	if err != nil {
		return metaResult{errno: unix.EPERM}
	}
	var st unix.Stat_t
	if err := unix.Fstat(obj, &st); err != nil {
		return metaResult{errno: unix.EPERM}
	}
	check := where
	if st.Nlink == 0 {
		check = strings.TrimSuffix(where, " (deleted)")
	}
	call := m.call
	switch {
	case !g.allowed(check):
		return metaResult{why: "the profile does not let the program write " + where, where: where}
	case call.op == opChmod && st.Mode&unix.S_IFMT == unix.S_IFREG && m.arg(modeArg(call))&0o6000 != 0:
		return metaResult{why: "a set-uid or set-gid bit on a regular file (a privileged copy)", where: where}
	case call.op == opSetxattr && a.xname == "security.capability":
		return metaResult{why: "file capabilities (security.capability: a privileged copy)", where: where}
	}
	g.hold("checked", where)
	errno := m.perform(obj, &st, a.times, a.xname, a.xvalue)
	g.hold("acted", where)
	return metaResult{errno: errno}
}

func modeArg(c metaCall) int {
	if c.path >= 0 {
		return c.path + 1
	}
	return c.fd + 1
}

// readXattrArgs reads setxattrat's struct xattr_args (value, size,
// flags; argument 4, its size argument 5) as the kernel does
// (copy_struct_from_user): at least the 16 bytes of its first version, at
// most a page, and any bytes beyond those it knows zero.
func (m *metaReq) readXattrArgs() (value, size uint64, flags int, e unix.Errno) {
	const ver0, page = 16, 4096
	usize := m.arg(5)
	switch {
	case usize > page:
		return 0, 0, 0, unix.E2BIG
	case usize < ver0:
		return 0, 0, 0, unix.EINVAL
	}
	b, e := m.readMem(m.arg(4), int(usize))
	if e != 0 {
		return 0, 0, 0, e
	}
	for _, c := range b[ver0:] {
		if c != 0 {
			return 0, 0, 0, unix.E2BIG
		}
	}
	le := binary.LittleEndian
	return le.Uint64(b[0:8]), uint64(le.Uint32(b[8:12])), int(int32(le.Uint32(b[12:16]))), 0
}

// readTimes reads the times argument of a utime call as two timespecs;
// nil when the call passed NULL (now).
func (m *metaReq) readTimes() ([]unix.Timespec, unix.Errno) {
	idx := 1
	if m.call.dirfd >= 0 {
		idx = 2
	}
	addr := m.arg(idx)
	if addr == 0 {
		return nil, 0
	}
	le := binary.LittleEndian
	switch m.call.op {
	case opUtimens:
		b, e := m.readMem(addr, 32)
		if e != 0 {
			return nil, e
		}
		return []unix.Timespec{{Sec: int64(le.Uint64(b)), Nsec: int64(le.Uint64(b[8:]))},
			{Sec: int64(le.Uint64(b[16:])), Nsec: int64(le.Uint64(b[24:]))}}, 0
	case opUtimes:
		b, e := m.readMem(addr, 32)
		if e != 0 {
			return nil, e
		}
		ts := make([]unix.Timespec, 2)
		for i := range ts {
			usec := int64(le.Uint64(b[16*i+8:]))
			if usec < 0 || usec >= 1000000 {
				return nil, unix.EINVAL
			}
			ts[i] = unix.Timespec{Sec: int64(le.Uint64(b[16*i:])), Nsec: usec * 1000}
		}
		return ts, 0
	default: // struct utimbuf { time_t actime, modtime; }
		b, e := m.readMem(addr, 16)
		if e != 0 {
			return nil, e
		}
		return []unix.Timespec{{Sec: int64(le.Uint64(b))}, {Sec: int64(le.Uint64(b[8:]))}}, 0
	}
}

// start returns the descriptor the call's object is looked up from
// (the program's cwd, the directory fd it passed, or the root), or,
// final, the object itself: the program's fd (fd calls), the directory
// fd of an empty path. It needs the supervisor's own credentials
// (pidfd_getfd, /proc/TID/cwd of a program that may be non-dumpable).
func (m *metaReq) start(path string, flags int) (fd int, final bool, e unix.Errno) {
	c := m.call
	if c.fd >= 0 {
		fd, err := unix.PidfdGetfd(m.pfd, int(int32(m.arg(c.fd))), 0)
		if err != nil {
			return -1, false, unix.EBADF
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_PATH != 0 {
			unix.Close(fd)
			return -1, false, unix.EBADF // the kernel refuses these calls on O_PATH descriptors
		}
		return fd, true, 0
	}
	dirfd := atFdcwd
	if c.dirfd >= 0 {
		dirfd = int(int32(m.arg(c.dirfd)))
	}
	var base int
	switch {
	case dirfd != atFdcwd && (!strings.HasPrefix(path, "/") || path == ""):
		fd, err := unix.PidfdGetfd(m.pfd, dirfd, 0)
		if err != nil {
			return -1, false, unix.EBADF
		}
		base = fd
	case strings.HasPrefix(path, "/"):
		// An absolute name: from the root, which must be the
		// supervisor's own (a chroot'ed program is refused).
		var a, b unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(int(m.req.pid))+"/root", &a) != nil || unix.Stat("/", &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
			return -1, false, unix.EPERM
		}
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false, unix.EPERM
		}
		base = fd
	default:
		fd, err := unix.Open("/proc/"+strconv.Itoa(int(m.req.pid))+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false, unix.ENOENT
		}
		base = fd
	}
	if !m.valid() {
		unix.Close(base)
		return -1, false, unix.ESRCH
	}
	if path == "" {
		if c.at && flags&unix.AT_EMPTY_PATH != 0 {
			// The descriptor itself, as fsetxattr: not the cwd for
			// AT_FDCWD, not an O_PATH one (the kernel's fdget).
			fl, err := unix.FcntlInt(uintptr(base), unix.F_GETFL, 0)
			if dirfd == atFdcwd || err != nil || fl&unix.O_PATH != 0 {
				unix.Close(base)
				return -1, false, unix.EBADF
			}
			return base, true, 0
		}
		if dirfd == atFdcwd && c.op == opUtimens && m.arg(c.path) == 0 {
			unix.Close(base)
			return -1, false, unix.EBADF // utimensat(AT_FDCWD, NULL, ...)
		}
		if flags&unix.AT_EMPTY_PATH == 0 && c.op != opUtimens {
			unix.Close(base)
			return -1, false, unix.ENOENT
		}
		if c.op == opUtimens && m.arg(c.path) != 0 && flags&unix.AT_EMPTY_PATH == 0 {
			unix.Close(base)
			return -1, false, unix.ENOENT
		}
		return base, true, 0
	}
	return base, false, 0
}

// lookup looks path up from base once, as the call would: with
// RESOLVE_NO_MAGICLINKS, and O_NOFOLLOW where the call does not follow
// a final symlink. It runs with the program's credentials (the kernel
// checks search permission on each directory).
func (m *metaReq) lookup(base int, path string, flags int) (int, unix.Errno) {
	c := m.call
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS}
	if !c.follow || flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		how.Flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Openat2(base, path, &how)
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return -1, errno
		}
		return -1, unix.EPERM
	}
	return fd, 0
}

// perform makes the change through obj.
func (m *metaReq) perform(obj int, st *unix.Stat_t, times []unix.Timespec, xname string, xvalue []byte) unix.Errno {
	proc := "/proc/thread-self/fd/" + strconv.Itoa(obj)
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	var err error
	switch m.call.op {
	case opChmod:
		if symlink {
			return unix.EOPNOTSUPP // Linux has no symlink modes
		}
		err = unix.Chmod(proc, uint32(m.arg(modeArg(m.call)))&0o7777)
	case opChown:
		idx := modeArg(m.call)
		err = unix.Fchownat(obj, "", int(int32(m.arg(idx))), int(int32(m.arg(idx+1))), unix.AT_EMPTY_PATH)
	case opUtimens, opUtimes, opUtime:
		err = utimensatEmpty(obj, times)
	case opSetxattr:
		if symlink {
			return unix.EPERM
		}
		err = unix.Setxattr(proc, xname, xvalue, m.xflags)
	case opRemovexattr:
		if symlink {
			return unix.EPERM
		}
		err = unix.Removexattr(proc, xname)
	}
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return errno
		}
		return unix.EPERM
	}
	return 0
}

// utimensatEmpty sets obj's times (nil: now) through its descriptor.
func utimensatEmpty(obj int, times []unix.Timespec) error {
	var p unsafe.Pointer
	if times != nil {
		p = unsafe.Pointer(&times[0])
	}
	empty := [1]byte{}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(obj), uintptr(unsafe.Pointer(&empty[0])), uintptr(p), unix.AT_EMPTY_PATH, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// hold is the test hook (metaGuard.hook): the supervisor stops at step
// ("checked": between its check and its action; "acted": between its
// action and its answer, only when the test made that FIFO too) until
// the test lets it go on.
func (g *metaGuard) hold(step, path string) {
	if g.hook == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(g.hook, step)); err != nil {
		return
	}
	if f, err := os.OpenFile(filepath.Join(g.hook, step), os.O_WRONLY, 0); err == nil {
		f.WriteString(step + " " + path + "\n")
		f.Close()
	}
	if f, err := os.Open(filepath.Join(g.hook, "go")); err == nil {
		var b [1]byte
		f.Read(b[:])
		f.Close()
	}
}
