package enforce

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A confined program's metadata calls are performed by its supervisor
// (meta.go), which runs as the user who ran immunix run, often root. A
// program that changed its credentials (a server that dropped root) must
// not have its calls made with the supervisor's: the kernel's permission
// checks would then be root's (a confused deputy). The supervisor makes
// such a call on its notification thread after that thread has taken on
// the calling thread's credentials for the call (asCaller), so the
// kernel checks the call as it would have checked the program's, and
// answers it as it would have.

// creds are a thread's user and group IDs (real, effective, saved, fs),
// supplementary groups and capability sets. The kernel's permission
// checks of a metadata call read the fs IDs, the groups and the
// effective set (same); the permitted and inheritable sets matter to
// credential changes and exec, as do the bounding and ambient sets,
// securebits and no_new_privs, which are not read.
type creds struct {
	uid, gid               [4]uint32 // real, effective, saved, fs
	groups                 []uint32
	capInh, capPrm, capEff uint64
}

// same reports whether c and o are the same for the kernel's permission
// checks of a metadata call: the effective and fs IDs, the groups, the
// effective capabilities. (File permission checks read the fs IDs;
// capability checks the effective set.)
func (c *creds) same(o *creds) bool {
	return c.uid[1] == o.uid[1] && c.uid[3] == o.uid[3] && c.gid[1] == o.gid[1] && c.gid[3] == o.gid[3] &&
		slices.Equal(slices.Sorted(slices.Values(c.groups)), slices.Sorted(slices.Values(o.groups))) &&
		c.capEff == o.capEff
}

// taken is what a thread with the credentials cur takes on to act with
// c: c's effective and fs IDs, groups and effective capabilities; its
// own real and saved IDs and its own permitted and inheritable sets.
// The kernel reads the real and saved user IDs (and the permitted set)
// when another process signals or ptraces the thread: kept, c's user
// can do neither to the supervisor.
func (c *creds) taken(cur *creds) *creds {
	t := *cur
	t.uid[1], t.uid[3] = c.uid[1], c.uid[3]
	t.gid[1], t.gid[3] = c.gid[1], c.gid[3]
	t.groups = c.groups
	t.capEff = c.capEff
	return &t
}

// equal reports whether c and o are the same, every set.
func (c *creds) equal(o *creds) bool {
	// The kernel keeps (and shows) the groups sorted.
	return c.uid == o.uid && c.gid == o.gid && slices.Equal(slices.Sorted(slices.Values(c.groups)), slices.Sorted(slices.Values(o.groups))) &&
		c.capInh == o.capInh && c.capPrm == o.capPrm && c.capEff == o.capEff
}

func (c *creds) String() string {
	return fmt.Sprintf("uid %v gid %v groups %v capeff %#x capprm %#x capinh %#x",
		c.uid, c.gid, c.groups, c.capEff, c.capPrm, c.capInh)
}

// ngroupsMax is the kernel's NGROUPS_MAX.
const ngroupsMax = 65536

// parseCreds reads creds from the text of /proc/TID/status. Every field
// must be present once and well formed; an ID of -1 (which setresuid
// reads as "unchanged") is refused.
func parseCreds(b []byte) (*creds, error) {
	c := &creds{}
	seen := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch key {
		case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff":
		default:
			continue
		}
		if seen[key] {
			return nil, fmt.Errorf("status: %s twice", key)
		}
		seen[key] = true
		f := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(f) != 4 {
				return nil, fmt.Errorf("status: %s has %d IDs, want 4", key, len(f))
			}
			ids := &c.uid
			if key == "Gid" {
				ids = &c.gid
			}
			for i, s := range f {
				id, err := parseID(s)
				if err != nil {
					return nil, fmt.Errorf("status: %s: %w", key, err)
				}
				ids[i] = id
			}
		case "Groups":
			if len(f) > ngroupsMax {
				return nil, fmt.Errorf("status: %d groups, over %d", len(f), ngroupsMax)
			}
			c.groups = make([]uint32, 0, len(f))
			for _, s := range f {
				id, err := parseID(s)
				if err != nil {
					return nil, fmt.Errorf("status: Groups: %w", err)
				}
				c.groups = append(c.groups, id)
			}
		default:
			if len(f) != 1 || len(f[0]) != 16 {
				return nil, fmt.Errorf("status: %s %q is not 16 hex digits", key, val)
			}
			v, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("status: %s: %w", key, err)
			}
			switch key {
			case "CapInh":
				c.capInh = v
			case "CapPrm":
				c.capPrm = v
			default:
				c.capEff = v
			}
		}
	}
	if len(seen) != 6 {
		return nil, errors.New("status: a credential field is missing")
	}
	return c, nil
}

func parseID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if v == 0xffffffff {
		return 0, errors.New("ID -1")
	}
	return uint32(v), nil
}

// readCreds reads the creds of a thread: "/proc/TID/status", or
// "/proc/thread-self/status" for the calling one.
func readCreds(status string) (*creds, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return nil, err
	}
	return parseCreds(b)
}

// asCaller runs fn on the calling goroutine's OS thread, which must be
// locked to it (runtime.LockOSThread) and stay so, with the credentials
// c for the kernel's permission checks, and then gives the thread its
// own credentials (cur) back. Only what the kernel's checks of the call
// read is taken on (taken: effective and fs IDs, groups, effective
// capabilities); the thread keeps its real and saved IDs and its
// permitted set, so that it can switch back, and so that c's user can
// neither signal nor ptrace it meanwhile. The switch uses raw per-thread
// system calls (not syscall.Setuid, which changes every thread of the
// process), and is verified in /proc/thread-self/status before fn runs;
// an error means fn did not run. If the thread cannot be given its own
// credentials back, the supervisor stops (panic): it does not go on
// with another's.
//
// The process is made non-dumpable first (the kernel does so itself
// when a thread's IDs change, unless fs.suid_dumpable is 1).
//
// Threads the runtime starts while a goroutine is locked are started
// from its template thread, not this one, so none inherits c.
func asCaller(c, cur *creds, fn func()) error {
	if err := undumpable(); err != nil {
		return err
	}
	err := switchCreds(c, cur)
	if err == nil {
		fn()
	}
	if rerr := restoreCreds(c, cur); rerr != nil {
		panic("immunix supervisor: cannot take its own credentials back: " + rerr.Error())
	}
	return err
}

var undumpable = sync.OnceValue(func() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
})

// runAs runs fn with the credentials c on a new OS thread, locked to
// its goroutine (asCaller), never the main thread: the runtime does not
// end the main thread, and the kernel's checks of signals sent to the
// process's pid read its credentials. A goroutine that finds itself
// there stays locked to it (so no other goroutine can run there) while
// it starts another.
func runAs(c, cur *creds, fn func()) error {
	done := make(chan error, 1)
	go credThread(c, cur, fn, done)
	return <-done
}

func credThread(c, cur *creds, fn func(), done chan<- error) {
	runtime.LockOSThread() // never unlocked, but on the main thread
	if unix.Gettid() == unix.Getpid() {
		inner := make(chan error, 1)
		go credThread(c, cur, fn, inner)
		err := <-inner
		runtime.UnlockOSThread()
		done <- err
		return
	}
	done <- asCaller(c, cur, fn)
}

func rawCall(name string, nr, a1, a2, a3 uintptr) error {
	if _, _, e := unix.RawSyscall(nr, a1, a2, a3); e != 0 {
		return fmt.Errorf("%s: %w", name, e)
	}
	return nil
}

func setGroups(g []uint32) error {
	var p uintptr
	if len(g) > 0 {
		p = uintptr(unsafe.Pointer(&g[0]))
	}
	return rawCall("setgroups", unix.SYS_SETGROUPS, uintptr(len(g)), p, 0)
}

// switchCreds changes the calling thread's credentials from cur to
// c.taken(cur). The order: groups and group
// IDs while the thread has its capabilities; the user IDs with
// PR_SET_KEEPCAPS (so the permitted set survives leaving uid 0); the
// effective set raised to the permitted one (so the fs uid may be any);
// the fs uid; then the effective set asked for (which the fs uid change
// may have trimmed).
func switchCreds(c, cur *creds) error {
	c = c.taken(cur)
	if !slices.Equal(c.groups, cur.groups) {
		if err := setGroups(c.groups); err != nil {
			return err
		}
	}
	if c.gid != cur.gid {
		if err := rawCall("setresgid", unix.SYS_SETRESGID, uintptr(c.gid[0]), uintptr(c.gid[1]), uintptr(c.gid[2])); err != nil {
			return err
		}
		unix.RawSyscall(unix.SYS_SETFSGID, uintptr(c.gid[3]), 0, 0) // verified below
	}
	if c.uid != cur.uid {
		if err := rawCall("prctl(PR_SET_KEEPCAPS)", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); err != nil {
			return err
		}
		if err := rawCall("setresuid", unix.SYS_SETRESUID, uintptr(c.uid[0]), uintptr(c.uid[1]), uintptr(c.uid[2])); err != nil {
			return err
		}
		if err := capset(cur.capPrm, cur.capPrm, cur.capInh); err != nil {
			return err
		}
		unix.RawSyscall(unix.SYS_SETFSUID, uintptr(c.uid[3]), 0, 0) // verified below
	}
	if err := capset(c.capEff, c.capPrm, c.capInh); err != nil {
		return err
	}
	return threadHas(c, "after the switch")
}

// threadHas verifies in /proc/thread-self/status that the calling
// thread's credentials are want; when says at which step, for the error.
func threadHas(want *creds, when string) error {
	now, err := readCreds("/proc/thread-self/status")
	if err != nil {
		return err
	}
	if !now.equal(want) {
		return fmt.Errorf("the thread has %v %s, not %v", now, when, want)
	}
	return nil
}

// restoreCreds gives the calling thread the credentials cur back from
// c, whatever switchCreds got to: the effective set raised to the
// permitted one (which switchCreds never changes), then the user IDs,
// the group IDs, the groups and the capability sets; verified.
func restoreCreds(c, cur *creds) error {
	if err := capset(cur.capPrm, cur.capPrm, cur.capInh); err != nil {
		return err
	}
	if err := rawCall("setresuid", unix.SYS_SETRESUID, uintptr(cur.uid[0]), uintptr(cur.uid[1]), uintptr(cur.uid[2])); err != nil {
		return err
	}
	unix.RawSyscall(unix.SYS_SETFSUID, uintptr(cur.uid[3]), 0, 0)
	if err := capset(cur.capPrm, cur.capPrm, cur.capInh); err != nil { // a uid change may have trimmed it
		return err
	}
	if err := rawCall("setresgid", unix.SYS_SETRESGID, uintptr(cur.gid[0]), uintptr(cur.gid[1]), uintptr(cur.gid[2])); err != nil {
		return err
	}
	unix.RawSyscall(unix.SYS_SETFSGID, uintptr(cur.gid[3]), 0, 0)
	if !slices.Equal(c.groups, cur.groups) {
		if err := setGroups(cur.groups); err != nil {
			return err
		}
	}
	if err := capset(cur.capEff, cur.capPrm, cur.capInh); err != nil {
		return err
	}
	if err := rawCall("prctl(PR_SET_KEEPCAPS)", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0); err != nil {
		return err
	}
	return threadHas(cur, "after the switch back")
}

// capset sets the calling thread's capability sets (raw: this thread).
func capset(eff, prm, inh uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(prm), Inheritable: uint32(inh)},
		{Effective: uint32(eff >> 32), Permitted: uint32(prm >> 32), Inheritable: uint32(inh >> 32)},
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}
