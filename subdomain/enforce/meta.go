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
//     not reused);
//  2. it refuses a thread whose credentials (user and group IDs, groups,
//     capabilities) are not its own: the kernel's permission checks of
//     the call it makes are then the ones the program's call would have
//     had;
//  3. it resolves the path once, to an O_PATH descriptor: relative to
//     the program's cwd (/proc/TID/cwd), or to the directory descriptor
//     the program passed (pidfd_getfd), or from the root, which must be
//     its own; with openat2 and RESOLVE_NO_MAGICLINKS (a
//     /proc/self/fd/N or /proc/self/cwd name is refused) and O_NOFOLLOW
//     where the call does not follow a final symlink (lchown,
//     AT_SYMLINK_NOFOLLOW). fd calls (fchmod, fchown, fsetxattr) take
//     its own copy of the program's descriptor (pidfd_getfd);
//  4. it checks the object that descriptor holds, by the path the kernel
//     reports for it (/proc/self/fd/N), against the write grants of the
//     plan (the Landlock rules with write rights: the profile's w and c
//     rules): the object or a directory above it must be one. It also
//     refuses a set-uid or set-gid bit on a regular file and the
//     security.capability attribute (a privileged copy);
//  5. it performs the change through that descriptor (fchownat
//     AT_EMPTY_PATH, utimensat AT_EMPTY_PATH, chmod and setxattr of
//     /proc/self/fd/N) and returns the call's result to the program.
//
// Nothing the program does after step 3 can change which object is
// changed. Refusals are alerted (op=chmod ... path=...).

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

// sameCreds reports whether the calling thread has the supervisor's own
// credentials: its user and mount namespaces, its user and group IDs
// (real, effective, saved, fs), its groups and its capability sets.
// It returns "" when they are the same, else what differs.
func sameCreds(tid int) string {
	theirs, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return "status unreadable"
	}
	ours, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return "own status unreadable"
	}
	// The same capabilities count only in the same user namespace, and
	// names mean the same only in the same mount namespace.
	for _, ns := range []string{"user", "mnt"} {
		var a, b unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(tid)+"/ns/"+ns, &a) != nil || unix.Stat("/proc/thread-self/ns/"+ns, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
			return ns + " namespace"
		}
	}
	for _, key := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"} {
		t, ok1 := statusLine(theirs, key)
		o, ok2 := statusLine(ours, key)
		if t != o || !ok1 || !ok2 {
			return strings.TrimSuffix(key, ":") + " " + t + " (supervisor: " + o + ")"
		}
	}
	return ""
}

func statusLine(b []byte, key string) (string, bool) {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			return strings.Join(strings.Fields(l[len(key):]), " "), true
		}
	}
	return "", false
}

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
	refuse := func(path, why string) (unix.Errno, *alert.Alert) {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(int(req.pid)) + "/exe")
		f := []alert.Field{{Key: "profile", Value: col.r.Profile.Program}, {Key: "op", Value: call.name}}
		if path != "" {
			f = append(f, alert.Field{Key: "path", Value: path})
		}
		f = append(f, alert.Field{Key: "mode", Value: "enforce"})
		return unix.EPERM, &alert.Alert{Kind: alert.KindSubDomain, Exe: exe, PID: int(req.pid), UID: os.Getuid(), Fields: f,
			Msg: call.name + " refused: " + why}
	}
	if d := sameCreds(int(req.pid)); d != "" {
		return refuse("", "the program's credentials differ from its supervisor's, which does not change metadata on their behalf: "+d)
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
	var times []unix.Timespec
	var xname string
	var xvalue []byte
	switch call.op {
	case opUtimens, opUtimes, opUtime:
		var e unix.Errno
		if times, e = m.readTimes(); e != 0 {
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
		if xname, e = m.readString(m.arg(nameArg), xattrNameMax+1); e != 0 {
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
				if xvalue, e = m.readMem(valueAddr, int(size)); e != 0 {
					return e, nil
				}
			}
		}
	}
	if !m.valid() {
		return unix.ESRCH, nil
	}
	// The object, resolved once.
	obj, e := m.resolve(path, flags)
	if e != 0 {
		return e, nil
	}
	defer unix.Close(obj)
	where, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(obj))
	if err != nil {
		return unix.EPERM, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(obj, &st); err != nil {
		return unix.EPERM, nil
	}
	check := where
	if st.Nlink == 0 {
		check = strings.TrimSuffix(where, " (deleted)")
	}
	if !g.allowed(check) {
		return refuse(where, "the profile does not let the program write "+where)
	}
	switch {
	case call.op == opChmod && st.Mode&unix.S_IFMT == unix.S_IFREG && m.arg(modeArg(call))&0o6000 != 0:
		return refuse(where, "a set-uid or set-gid bit on a regular file (a privileged copy)")
	case call.op == opSetxattr && xname == "security.capability":
		return refuse(where, "file capabilities (security.capability: a privileged copy)")
	}
	g.hold("checked", where)
	errno, a := m.perform(obj, &st, times, xname, xvalue)
	g.hold("acted", where)
	return errno, a
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

// resolve returns an O_PATH descriptor of the call's object: the
// program's fd (fd calls), or path looked up once from the program's
// cwd, the directory fd it passed, or the root.
func (m *metaReq) resolve(path string, flags int) (int, unix.Errno) {
	c := m.call
	if c.fd >= 0 {
		fd, err := unix.PidfdGetfd(m.pfd, int(int32(m.arg(c.fd))), 0)
		if err != nil {
			return -1, unix.EBADF
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_PATH != 0 {
			unix.Close(fd)
			return -1, unix.EBADF // the kernel refuses these calls on O_PATH descriptors
		}
		return fd, 0
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
			return -1, unix.EBADF
		}
		base = fd
	case strings.HasPrefix(path, "/"):
		// An absolute name: from the root, which must be the
		// supervisor's own (a chroot'ed program is refused).
		var a, b unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(int(m.req.pid))+"/root", &a) != nil || unix.Stat("/", &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
			return -1, unix.EPERM
		}
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.EPERM
		}
		base = fd
	default:
		fd, err := unix.Open("/proc/"+strconv.Itoa(int(m.req.pid))+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.ENOENT
		}
		base = fd
	}
	if !m.valid() {
		unix.Close(base)
		return -1, unix.ESRCH
	}
	if path == "" {
		if c.at && flags&unix.AT_EMPTY_PATH != 0 {
			// The descriptor itself, as fsetxattr: not the cwd for
			// AT_FDCWD, not an O_PATH one (the kernel's fdget).
			fl, err := unix.FcntlInt(uintptr(base), unix.F_GETFL, 0)
			if dirfd == atFdcwd || err != nil || fl&unix.O_PATH != 0 {
				unix.Close(base)
				return -1, unix.EBADF
			}
			return base, 0
		}
		if dirfd == atFdcwd && c.op == opUtimens && m.arg(c.path) == 0 {
			unix.Close(base)
			return -1, unix.EBADF // utimensat(AT_FDCWD, NULL, ...)
		}
		if flags&unix.AT_EMPTY_PATH == 0 && c.op != opUtimens {
			unix.Close(base)
			return -1, unix.ENOENT
		}
		if c.op == opUtimens && m.arg(c.path) != 0 && flags&unix.AT_EMPTY_PATH == 0 {
			unix.Close(base)
			return -1, unix.ENOENT
		}
		return base, 0
	}
	defer unix.Close(base)
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
func (m *metaReq) perform(obj int, st *unix.Stat_t, times []unix.Timespec, xname string, xvalue []byte) (unix.Errno, *alert.Alert) {
	proc := "/proc/self/fd/" + strconv.Itoa(obj)
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	var err error
	switch m.call.op {
	case opChmod:
		if symlink {
			return unix.EOPNOTSUPP, nil // Linux has no symlink modes
		}
		err = unix.Chmod(proc, uint32(m.arg(modeArg(m.call)))&0o7777)
	case opChown:
		idx := modeArg(m.call)
		err = unix.Fchownat(obj, "", int(int32(m.arg(idx))), int(int32(m.arg(idx+1))), unix.AT_EMPTY_PATH)
	case opUtimens, opUtimes, opUtime:
		err = utimensatEmpty(obj, times)
	case opSetxattr:
		if symlink {
			return unix.EPERM, nil
		}
		err = unix.Setxattr(proc, xname, xvalue, m.xflags)
	case opRemovexattr:
		if symlink {
			return unix.EPERM, nil
		}
		err = unix.Removexattr(proc, xname)
	}
	if err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return errno, nil
		}
		return unix.EPERM, nil
	}
	return 0, nil
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
