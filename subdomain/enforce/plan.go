package enforce

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/subdomain"
)

// auditABI is the first Landlock ABI whose denials the kernel audits.
const auditABI = 7

// KernelABI returns the Landlock ABI version of the running kernel, 0
// when Landlock is missing or disabled. Tests replace it.
var KernelABI = func() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// Right sets used below.
const (
	fileRights = ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
	makeRights = ll.AccessFSMakeReg | ll.AccessFSMakeDir | ll.AccessFSMakeSym | ll.AccessFSMakeSock |
		ll.AccessFSMakeFifo | ll.AccessFSRemoveFile | ll.AccessFSRemoveDir | ll.AccessFSRefer
	// fileMakeRights create, remove or rename a name that is not a
	// directory; dirMakeRights a directory (a rule ending in /).
	fileMakeRights = ll.AccessFSMakeReg | ll.AccessFSMakeSym | ll.AccessFSMakeSock | ll.AccessFSMakeFifo |
		ll.AccessFSRemoveFile | ll.AccessFSRefer
	dirMakeRights = ll.AccessFSMakeDir | ll.AccessFSRemoveDir | ll.AccessFSRefer
)

// abiFS is the set of file system rights each Landlock ABI handles.
var abiFS = []uint64{
	0,
	1<<13 - 1, // v1: execute .. make_sym
	1<<14 - 1, // v2: + refer
	1<<15 - 1, // v3: + truncate
	1<<15 - 1, // v4: + TCP bind/connect
	1<<16 - 1, // v5: + ioctl_dev
	1<<16 - 1, // v6: + scopes
	1<<16 - 1, // v7: + audit logging
}

// PathGrant is one Landlock path rule: the rights granted beneath Path.
type PathGrant struct {
	Path   string
	Rights uint64
	From   []string // the profile rules it comes from
}

// Plan is a profile compiled for the running kernel.
type Plan struct {
	ABI       int
	Handled   uint64 // file system rights Landlock restricts
	Paths     []PathGrant
	Net       []subdomain.NetRule // enforced TCP rules (ABI >= 4)
	HandleNet bool
	Blocked   []string // system calls the seccomp filter refuses
	// Notes say what the kernel or Landlock cannot enforce of the
	// profile, one line each.
	Notes []string
	// Audit says whether the kernel can log denials (ABI >= 7).
	Audit bool
	// Scoped is the Landlock IPC scopes (ABI >= 6): signals and
	// abstract unix sockets only within the confinement.
	Scoped uint64
	// MemfdNoexecDefault: the kernel's vm.memfd_noexec seals memfds
	// made without MFD_EXEC against execution.
	MemfdNoexecDefault bool
	// UDP: the profile grants UDP sockets ("network udp"), every port.
	UDP bool
	// unsupervised: no supervisor answers seccomp notifications (Run
	// starts none when nothing needs one): listen() and the metadata
	// calls are refused by the filter itself.
	unsupervised bool
}

// NeedsSupervisor reports whether a supervisor must answer the
// program's calls: listen() when the profile binds TCP ports, the
// metadata calls when the profile has write grants and does not grant
// their families outright. (Alerts need one too: see Runner.Run.)
func (pl *Plan) NeedsSupervisor(writeGrants []string) bool {
	for _, n := range pl.Net {
		if n.Op == "bind" {
			return true
		}
	}
	if !pl.HandleNet {
		return true // every port may be bound: listen() is checked for a port
	}
	return len(pl.Meta()) > 0 && len(writeGrants) > 0
}

// filterOpts are the seccomp argument checks of the plan.
func (pl *Plan) filterOpts() filterOpts {
	listen := uint32(retNotify)
	if pl.unsupervised {
		listen = retEPERM
	}
	return filterOpts{
		listen:             listen,
		memfdExec:          !slices.Contains(pl.Blocked, "memfd_create"),
		memfdNoexecDefault: pl.MemfdNoexecDefault,
		udp:                pl.UDP,
		meta:               pl.Meta(),
	}
}

// Meta returns the metadata families (subdomain.MetadataFamilies) the
// profile does not grant outright: the supervisor decides their calls
// by the plan's write grants (WriteGrants).
func (pl *Plan) Meta() []string {
	var m []string
	for _, f := range subdomain.MetadataFamilies {
		if slices.Contains(pl.Blocked, f) {
			m = append(m, f)
		}
	}
	return m
}

// WriteGrants returns the paths beneath which (or, for a file, on
// which) Landlock lets the program write: where the supervisor performs
// its metadata calls, a directory (a tree) with a trailing "/". Each is
// resolved now, as Landlock resolves its
// rules when they are made (an O_PATH open following symlinks), to the
// name the kernel reports for it: a symlink in a rule that the program
// swaps later changes neither.
func (pl *Plan) WriteGrants() []string {
	var out []string
	for _, g := range pl.Paths {
		if g.Rights&ll.AccessFSWriteFile == 0 {
			continue
		}
		fd, err := unix.Open(g.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // Landlock skips it too (IgnoreIfMissing)
		}
		var st unix.Stat_t
		serr := unix.Fstat(fd, &st)
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
		if err != nil || serr != nil || !strings.HasPrefix(p, "/") {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR && p != "/" {
			p += "/" // a tree; a file grant is that file only
		}
		out = append(out, p)
	}
	return out
}

// Compile turns p (with every nested profile: Landlock cannot give an
// executed child more than its parent, so the union is enforced) into
// Landlock rules for a kernel with Landlock ABI abi.
func Compile(p *subdomain.Profile, abi int) (*Plan, error) {
	if abi < 1 {
		return nil, fmt.Errorf("the kernel has no Landlock (ABI 0; Linux 5.13+ with CONFIG_SECURITY_LANDLOCK and landlock in lsm=): file rules cannot be enforced; run with --complain to audit the program under strace instead")
	}
	top := min(abi, len(abiFS)-1)
	pl := &Plan{ABI: abi, Handled: abiFS[top], HandleNet: abi >= 4, Audit: abi >= auditABI}
	if abi >= 6 {
		pl.Scoped = ll.ScopeAbstractUnixSocket | ll.ScopeSignal
	}
	if b, err := os.ReadFile("/proc/sys/vm/memfd_noexec"); err == nil {
		pl.MemfdNoexecDefault = len(b) > 0 && b[0] >= '1' && b[0] <= '2'
	}
	grants := map[string]*PathGrant{}
	add := func(path string, rights uint64, from string) {
		g := grants[path]
		if g == nil {
			g = &PathGrant{Path: path}
			grants[path] = g
		}
		g.Rights |= rights
		if !slices.Contains(g.From, from) {
			g.From = append(g.From, from)
		}
	}
	var missing, widened, procSkipped []string
	var unixAbstract, signalOutside bool
	nested := 0
	p.Walk(func(q *subdomain.Profile) {
		if q != p {
			nested++
		}
		for i := range q.Rules {
			r := &q.Rules[i]
			ruleText := subdomain.QuotePath(r.Path) + " " + r.ModeString()
			for _, path := range expandVars(r.Path) {
				rights := modeRights(r.Mode)
				if r.Mode&subdomain.Exec != 0 && !subdomain.HasGlob(path) {
					for _, in := range subdomain.Interpreters(path) {
						add(in, ll.AccessFSExecute|ll.AccessFSReadFile, ruleText+" (interpreter)")
					}
				}
				dirRule := strings.HasSuffix(path, "/")
				path = strings.TrimSuffix(path, "/")
				if path == "" {
					path = "/"
				}
				// The program's own /proc entries: on /proc/self, which
				// the thread that execs the program resolves to the
				// program's own pid (it keeps it across the exec). A
				// pattern with any other base in /proc would be
				// enforced on all of /proc (/proc/sys, other processes'
				// entries): never granted.
				if own, ok := ownProc(path); ok {
					path = own
				} else if subdomain.GlobBase(path) == "/proc" && subdomain.HasGlob(path) {
					procSkipped = append(procSkipped, r.Path)
					continue
				}
				base := subdomain.GlobBase(path)
				glob := base != path
				if glob {
					widened = append(widened, fmt.Sprintf("%s → %s/", r.Path, base))
				}
				fi, err := os.Stat(base)
				create := r.Mode&subdomain.Create != 0
				switch {
				case err != nil && create && !glob:
					// A name to be created: the rights go on its
					// directory, which must exist now. Never on a
					// further ancestor: that would grant creating and
					// writing anywhere beneath it.
					dir := filepath.Dir(path)
					if st, err := os.Stat(dir); err != nil || !st.IsDir() {
						missing = append(missing, r.Path)
						continue
					}
					if dirRule {
						add(dir, dirMakeRights, ruleText)
					} else {
						add(dir, (rights&^ll.AccessFSExecute)|fileMakeRights, ruleText)
					}
					widened = append(widened, fmt.Sprintf("%s → %s/ (to be created)", r.Path, dir))
				case err != nil:
					missing = append(missing, r.Path)
				case fi.IsDir() && !glob:
					// A directory: r lists it (READ_DIR, which Landlock
					// grants on every directory beneath too), never
					// reads the files beneath it; c creates or removes
					// the directory itself, in its parent.
					var dr uint64
					if r.Mode&subdomain.Read != 0 {
						dr |= ll.AccessFSReadDir
					}
					if dr != 0 {
						add(path, dr, ruleText)
					}
					if create && path != "/" {
						add(filepath.Dir(path), dirMakeRights, ruleText)
					}
				case fi.IsDir():
					// A pattern: every file and directory it may match
					// lies beneath its base directory.
					if r.Mode&subdomain.Read != 0 {
						rights |= ll.AccessFSReadDir
					}
					if create {
						rights |= makeRights
					}
					add(base, rights, ruleText)
				default:
					if create {
						// An existing file opened with O_CREAT: writing is
						// enough unless it is replaced, which the parent
						// directory grants.
						if fi.Mode().IsRegular() && r.Mode&subdomain.Write == 0 {
							add(filepath.Dir(path), fileMakeRights, ruleText)
						}
					}
					if fi.Mode()&os.ModeDevice != 0 {
						rights |= ll.AccessFSIoctlDev
					}
					add(base, rights&fileRights, ruleText)
				}
			}
		}
		for _, n := range q.Net {
			switch n.Proto {
			case "tcp":
				pl.Net = append(pl.Net, n)
			case "udp":
				pl.UDP = true
			case "unix":
				unixAbstract = true
			case "signal":
				signalOutside = true
			}
		}
	})
	if abi < 6 && !(unixAbstract && signalOutside) {
		return nil, fmt.Errorf("the kernel's Landlock ABI %d cannot keep the program from signalling processes outside its confinement (its supervisor too) or connecting to abstract unix sockets (ABI 6 can): refusing to run; add \"signal outside\" and \"network unix abstract\" to the profile to run it without that, knowingly", abi)
	}
	if unixAbstract {
		pl.Scoped &^= ll.ScopeAbstractUnixSocket
	}
	if signalOutside {
		pl.Scoped &^= ll.ScopeSignal
	}
	// The program itself must be executable in the domain.
	if p.Program != "" {
		add(p.Program, ll.AccessFSExecute|ll.AccessFSReadFile, "(the confined program)")
		for _, in := range subdomain.Interpreters(p.Program) {
			add(in, ll.AccessFSExecute|ll.AccessFSReadFile, "(interpreter of the confined program)")
		}
	}
	for _, g := range grants {
		g.Rights &= pl.Handled
		if g.Rights != 0 {
			pl.Paths = append(pl.Paths, *g)
		}
	}
	sort.Slice(pl.Paths, func(i, j int) bool { return pl.Paths[i].Path < pl.Paths[j].Path })
	granted := map[string]bool{}
	p.Walk(func(q *subdomain.Profile) {
		for _, s := range q.Syscalls {
			granted[s] = true
		}
	})
	for _, s := range subdomain.DangerousSyscalls {
		if !granted[s] {
			pl.Blocked = append(pl.Blocked, s)
		}
	}
	// What this kernel and Landlock cannot do.
	if nested > 0 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("%d nested (px) profiles are enforced as one union with their parent: Landlock cannot give an executed child more than its parent", nested))
	}
	if len(widened) > 0 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("%d patterns are enforced on their whole directory (Landlock rules are directory trees, not globs): %s", len(widened), strings.Join(clipList(widened, 4), ", ")))
	}
	if len(procSkipped) > 0 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("%d patterns in /proc are not granted (Landlock would grant all of /proc; only the program's own /proc/@{pid}/... entries can be): %s", len(procSkipped), strings.Join(clipList(procSkipped, 4), ", ")))
	}
	if len(missing) > 0 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("%d rules name paths that do not exist now and cannot be ruled: %s", len(missing), strings.Join(clipList(missing, 4), ", ")))
	}
	pl.Notes = append(pl.Notes, "m (map executable) is enforced as r: Landlock has no mmap right")
	if abi < 2 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 2: renames and links across directories are always refused", abi))
		// ABI 2 came with Linux 5.19, as SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
		pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 2 (Linux < 5.19): a metadata call that a signal interrupts while the supervisor performs it is restarted and performed again", abi))
	}
	if abi < 3 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 3: truncate is not restricted", abi))
	}
	if len(pl.Net) > 0 || abi < 4 {
		if abi < 4 {
			pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 4: TCP bind/connect rules are not enforced", abi))
			pl.Net = nil
		}
	}
	if abi < 5 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 5: ioctl on devices is not restricted", abi))
	}
	if abi < 7 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("kernel Landlock ABI %d < 7: denials are not audited, so they cannot be alerted; use --complain to see them", abi))
	}
	if pl.UDP {
		pl.Notes = append(pl.Notes, "network udp: UDP sockets may use every port (Landlock of this kernel has no UDP port rules)")
	}
	if signalOutside && abi >= 6 {
		pl.Notes = append(pl.Notes, "signal outside: the program may signal processes outside the confinement, its supervisor too (alerts then stop; listen() then fails)")
	}
	if abi < 9 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("connecting to pathname unix sockets is not restricted (Landlock ABI 9 could; this kernel has %d)", abi))
	}
	return pl, nil
}

// ownProc maps a rule on the program's own /proc entries
// (/proc/@{pid}/..., /proc/self/...) to /proc/self/..., which the
// confining thread resolves to the program's own pid.
func ownProc(path string) (string, bool) {
	for _, pre := range []string{"/proc/@{pid}", "/proc/self"} {
		if rest, ok := strings.CutPrefix(path, pre); ok && (rest == "" || rest[0] == '/') {
			return "/proc/self" + rest, true
		}
	}
	return "", false
}

func clipList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

// expandVars replaces @{HOME} by each home directory that exists now;
// other patterns are returned as they are.
func expandVars(path string) []string {
	rest, ok := strings.CutPrefix(path, "@{HOME}")
	if !ok {
		return []string{path}
	}
	homes := []string{"/root"}
	if ents, err := os.ReadDir("/home"); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				homes = append(homes, "/home/"+e.Name())
			}
		}
	}
	var out []string
	for _, h := range homes {
		out = append(out, h+rest)
	}
	return out
}

func modeRights(m subdomain.Mode) uint64 {
	var r uint64
	if m&(subdomain.Read|subdomain.Mmap) != 0 {
		r |= ll.AccessFSReadFile
	}
	if m&subdomain.Write != 0 {
		r |= ll.AccessFSWriteFile | ll.AccessFSTruncate
	}
	if m&subdomain.Create != 0 {
		r |= ll.AccessFSWriteFile | ll.AccessFSTruncate
	}
	if m&subdomain.Exec != 0 {
		r |= ll.AccessFSExecute | ll.AccessFSReadFile
	}
	return r
}

// Rules returns the plan as go-landlock rules.
func (pl *Plan) Rules() []landlock.Rule {
	var rules []landlock.Rule
	for _, g := range pl.Paths {
		r := landlock.PathAccess(landlock.AccessFSSet(g.Rights), g.Path).IgnoreIfMissing()
		if g.Rights&ll.AccessFSRefer != 0 {
			r = r.WithRefer()
		}
		rules = append(rules, r)
	}
	if pl.HandleNet {
		for _, n := range pl.Net {
			if n.Op == "bind" {
				rules = append(rules, landlock.BindTCP(n.Port))
			} else {
				rules = append(rules, landlock.ConnectTCP(n.Port))
			}
		}
	}
	return rules
}

// String lists the plan: the ABI, each path grant with its rights, the
// ports, the blocked system calls and the notes.
func (pl *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "landlock ABI %d, handled %v\n", pl.ABI, landlock.AccessFSSet(pl.Handled))
	for _, g := range pl.Paths {
		fmt.Fprintf(&b, "  %s %v\n", g.Path, landlock.AccessFSSet(g.Rights))
	}
	for _, n := range pl.Net {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	fmt.Fprintf(&b, "seccomp blocks: %s\n", strings.Join(pl.Blocked, " "))
	if m := pl.Meta(); len(m) > 0 {
		fmt.Fprintf(&b, "supervisor performs %s calls on the write grants only (i386 calls: refused)\n", strings.Join(m, " "))
	}
	for _, n := range pl.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}
